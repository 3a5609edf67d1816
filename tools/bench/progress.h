// A one-line progress bar on stdout for long phases, drawn only when stdout is a terminal; a
// no-op otherwise so logs and CI output stay clean.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace nsm::bench {

class Progress {
 public:
  // `fraction` (0..1) and `status` (short text after the bar) are polled every 200 ms.
  Progress(bool enabled, std::string label, std::function<double()> fraction,
           std::function<std::string()> status = {});
  // Stops drawing and clears the line.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

 private:
  void Draw() const;

  bool enabled_;
  std::string label_;
  std::function<double()> fraction_;
  std::function<std::string()> status_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace nsm::bench
