#include "registry/clienturl/clienturl.h"

namespace nsm::reg::clienturl {

template class Server<NSTraits>;
template class Server<NSETraits>;

}  // namespace nsm::reg::clienturl
