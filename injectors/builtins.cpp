// One line per built-in injector kind.
#include "injectors/command_injector.h"
#include "injectors/http_injector.h"
#include "injectors/injector.h"
#include "injectors/ipmi_injector.h"
#include "injectors/redfish_injector.h"
#include "injectors/iscsi_session_injector.h"
#include "injectors/link_injector.h"
#include "injectors/multipath_path_injector.h"
#include "injectors/netfilter_injector.h"
#include "injectors/process_injector.h"
#include "injectors/scsi_device_injector.h"
#include "injectors/ssh_injector.h"
#include "injectors/xapi_injector.h"

namespace fb {

void RegisterBuiltinInjectors() {
  InjectorRegistry& r = InjectorRegistry::Global();
  r.Register("command", NewCommandInjector);
  r.Register("ssh", NewSshInjector);
  r.Register("http", NewHttpInjector);
  r.Register("netfilter", NewNetfilterInjector);
  r.Register("link", NewLinkInjector);
  r.Register("process", NewProcessInjector);
  r.Register("iscsi_session", NewIscsiSessionInjector);
  r.Register("multipath_path", NewMultipathPathInjector);
  r.Register("scsi_device", NewScsiDeviceInjector);
  r.Register("ipmi", NewIpmiInjector);
  r.Register("redfish", NewRedfishInjector);
  r.Register("xapi", NewXapiInjector);
}

}  // namespace fb
