#include "registry/serialize/serialize.h"

namespace nsm::reg::serialize {

template class Server<NSTraits>;
template class Server<NSETraits>;

}  // namespace nsm::reg::serialize
