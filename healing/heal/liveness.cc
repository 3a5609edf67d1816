#include "healing/heal/liveness.h"

namespace nsm::healing::heal {
namespace {

class FunctionChecker : public DataPathChecker {
 public:
  explicit FunctionChecker(std::function<Liveness(const Context&, const Connection&)> fn)
      : fn_(std::move(fn)) {}
  Liveness Check(const Context& ctx, const Connection& conn) override { return fn_(ctx, conn); }

 private:
  std::function<Liveness(const Context&, const Connection&)> fn_;
};

}  // namespace

std::shared_ptr<DataPathChecker> CheckerFromFunction(
    std::function<Liveness(const Context&, const Connection&)> fn) {
  return std::make_shared<FunctionChecker>(std::move(fn));
}

}  // namespace nsm::healing::heal
