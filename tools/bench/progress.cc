#include "tools/bench/progress.h"

#include <algorithm>
#include <cstdio>

#include "absl/time/clock.h"

namespace nsm::bench {

Progress::Progress(bool enabled, std::string label, std::function<double()> fraction,
                   std::function<std::string()> status)
    : enabled_(enabled),
      label_(std::move(label)),
      fraction_(std::move(fraction)),
      status_(std::move(status)) {
  if (!enabled_) return;
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      Draw();
      for (int i = 0; i < 20 && !stop_.load(); ++i) absl::SleepFor(absl::Milliseconds(10));
    }
  });
}

Progress::~Progress() {
  if (!enabled_) return;
  stop_.store(true);
  thread_.join();
  std::printf("\r%*s\r", 100, "");
  std::fflush(stdout);
}

void Progress::Draw() const {
  constexpr int kWidth = 30;
  const double f = std::clamp(fraction_ ? fraction_() : 0.0, 0.0, 1.0);
  const int filled = static_cast<int>(f * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  const std::string status = status_ ? status_() : "";
  std::printf("\r  %-10.10s [%s] %3d%% %-40.40s", label_.c_str(), bar.c_str(),
              static_cast<int>(f * 100), status.c_str());
  std::fflush(stdout);
}

}  // namespace nsm::bench
