// TypedKey<T>: a named, type-safe key for context values and per-connection metadata entries.
// Declare one per value kind: `inline const TypedKey<Foo> kFooKey{"foo"};` (chain-model.md §4.1).
#pragma once

namespace nsm {

template <typename T>
class TypedKey {
 public:
  constexpr explicit TypedKey(const char* name) : name_(name) {}
  TypedKey(const TypedKey&) = delete;
  TypedKey& operator=(const TypedKey&) = delete;

  const char* name() const { return name_; }
  // Identity is the key object's address: two keys with the same name are different keys.
  const void* id() const { return this; }

 private:
  const char* name_;
};

}  // namespace nsm
