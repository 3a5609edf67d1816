#include "registry/validate/validate.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/nsm_url.h"
#include "api/path.h"

namespace nsm::reg::validate {
namespace {

// Quoted for messages, with control characters escaped so the message stays one line.
std::string Quote(absl::string_view v) {
  std::string out = "\"";
  for (unsigned char c : v.substr(0, 200)) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (v.size() > 200) absl::StrAppend(&out, "...");
  out += "\"";
  return out;
}

absl::Status Invalid(absl::string_view field, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, " ", Quote(value), " ", why));
}

absl::Status ValidateOptionalName(absl::string_view field, absl::string_view name) {
  return name.empty() ? absl::OkStatus() : ValidateName(field, name);
}

absl::Status ValidateEndpointUrl(absl::string_view field, absl::string_view url) {
  if (url.empty()) return absl::OkStatus();
  auto parsed = api::ParseNsmUrl(url);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", parsed.status().message()));
  }
  if (parsed->scheme == api::NsmUrl::Scheme::kTcp && parsed->host.empty()) {
    return Invalid(field, url, "has no host: an endpoint must be reachable at its URL");
  }
  return absl::OkStatus();
}

absl::Status ValidateEndpointFields(absl::string_view prefix,
                                    const ::registry::NetworkServiceEndpoint& nse) {
  for (int i = 0; i < nse.network_service_names_size(); ++i) {
    if (auto s = ValidateName(absl::StrCat(prefix, "network_service_names[", i, "]"),
                              nse.network_service_names(i));
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [service, labels] : nse.network_service_labels()) {
    if (auto s = ValidateName(absl::StrCat(prefix, "network_service_labels key"), service);
        !s.ok()) {
      return s;
    }
    for (const auto& [key, value] : labels.labels()) {
      if (key.empty()) {
        return Invalid(absl::StrCat(prefix, "network_service_labels[", service, "] label key"), key,
                       "is empty");
      }
    }
  }
  if (nse.has_expiration_time()) {
    if (auto s =
            api::ValidateTimestamp(nse.expiration_time(), absl::StrCat(prefix, "expiration_time"));
        !s.ok()) {
      return s;
    }
  }
  if (nse.has_initial_registration_time()) {
    if (auto s = api::ValidateTimestamp(nse.initial_registration_time(),
                                        absl::StrCat(prefix, "initial_registration_time"));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateName(absl::string_view field, absl::string_view name) {
  if (name.empty()) return Invalid(field, name, "is empty");
  if (name.size() > kMaxNameLength) {
    return Invalid(field, name,
                   absl::StrCat("is ", name.size(), " bytes long (at most ", kMaxNameLength, ")"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c <= 0x20 || c == 0x7f) {
      return Invalid(field, name, absl::StrCat("has a space or control character at byte ", i));
    }
  }
  size_t at = name.find('@');
  if (at != absl::string_view::npos) {
    if (name.find('@', at + 1) != absl::string_view::npos) {
      return Invalid(field, name, "has more than one '@' (want name or name@domain)");
    }
    if (at == 0 || at + 1 == name.size()) {
      return Invalid(field, name, "has an empty part around '@' (want name@domain)");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRegister(const ::registry::NetworkService& ns) {
  return ValidateName("network_service.name", ns.name());
}

absl::Status ValidateRegister(const ::registry::NetworkServiceEndpoint& nse) {
  if (auto s = ValidateName("network_service_endpoint.name", nse.name()); !s.ok()) return s;
  if (auto s = ValidateEndpointUrl("network_service_endpoint.url", nse.url()); !s.ok()) return s;
  return ValidateEndpointFields("network_service_endpoint.", nse);
}

absl::Status ValidateUnregister(const ::registry::NetworkService& ns) {
  return ValidateName("network_service.name", ns.name());
}

absl::Status ValidateUnregister(const ::registry::NetworkServiceEndpoint& nse) {
  return ValidateName("network_service_endpoint.name", nse.name());
}

absl::Status ValidateQuery(const ::registry::NetworkServiceQuery& query) {
  return ValidateOptionalName("query.network_service.name", query.network_service().name());
}

absl::Status ValidateQuery(const ::registry::NetworkServiceEndpointQuery& query) {
  const auto& nse = query.network_service_endpoint();
  if (auto s = ValidateOptionalName("query.network_service_endpoint.name", nse.name()); !s.ok()) {
    return s;
  }
  return ValidateEndpointFields("query.network_service_endpoint.", nse);
}

template class Server<NSTraits>;
template class Server<NSETraits>;

}  // namespace nsm::reg::validate
