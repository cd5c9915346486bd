// The `xapi` probe's model of a pool: it keeps the last known state of the
// objects that matter (hosts, host_metrics, VMs, pools, PBDs) and turns each
// change into a normalized event. Fed with event.from events and with
// get_all_records results (docs/platform.md, XAPI). Objects first seen are
// recorded silently: only a change against a known state is an event, so the
// first records of a run are a baseline and records read again after a blind gap
// name what changed during it. Not thread-safe (the probe's thread owns it).
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "core/event.h"

namespace fb {

class XapiTracker {
 public:
  // Receives kind, severity, message and attrs (class, ref, operation, raw snapshot
  // and the kind's fields) of each event, in the order the changes were seen.
  using EmitFn = std::function<void(const std::string& kind, Severity severity, const std::string& message,
                                    nlohmann::json attrs)>;

  explicit XapiTracker(EmitFn emit) : emit_(std::move(emit)) {}

  // One event of an event.from result: {id, timestamp, class, operation, ref, snapshot}.
  void OnEvent(const nlohmann::json& event);
  // `cls` (event.from's lower-case class name) with its get_all_records result, a
  // map ref -> record; changes emit with attrs.operation "records". For "message"
  // (message.get_since's map) every message not reported yet is an event.
  void OnRecords(const std::string& cls, const nlohmann::json& records);

  // The classes this tracker follows, lower-case, as event.from names them.
  static const std::vector<std::string>& Classes();
  // The get_all_records method for one of Classes() ("VM.get_all_records"), or ""
  // for "message" (messages are not re-read).
  static std::string RecordsMethod(const std::string& cls);

  // A "[1, 2]" PBD mpath value as {active, total}.
  static std::optional<std::pair<int, int>> ParseMpathCounts(const std::string& value);
  // The fields of one MULTIPATH_PERIODIC_ALERT body line (`[…] host=<uuid>;
  // host-name="<name>"; pbd=<uuid>; scsi_id=<id>; current=<n>; max=<n>`); current and max
  // as numbers.
  static nlohmann::json ParseMultipathLine(const std::string& line);

 private:
  struct Host {
    std::string name, uuid, metrics;
  };
  struct Vm {
    std::string name, uuid, power_state, resident_on, last_host;
    bool ignored = false;  // control domain or template
  };
  struct Pbd {
    std::string uuid, host, sr;
    std::map<std::string, std::pair<int, int>> mpath;  // SCSIid -> {active, total}
  };

  void Apply(const std::string& cls, const std::string& ref, const std::string& op,
             const nlohmann::json& snap);
  void Deleted(const std::string& cls, const std::string& ref, const std::string& op);
  void HostMetrics(const std::string& ref, const nlohmann::json& snap, nlohmann::json base);
  void VmChange(const std::string& ref, const nlohmann::json& snap, nlohmann::json base);
  void PoolChange(const std::string& ref, const nlohmann::json& snap, nlohmann::json base);
  void PbdChange(const std::string& ref, const nlohmann::json& snap, nlohmann::json base);
  void Message(const std::string& ref, const nlohmann::json& snap, nlohmann::json base);
  std::string HostName(const std::string& ref) const;
  std::string HostNameByUuid(const std::string& uuid) const;
  std::string HostOfMetrics(const std::string& metrics_ref) const;

  EmitFn emit_;
  std::map<std::string, Host> hosts_;
  std::map<std::string, bool> live_;  // host_metrics ref -> live
  std::map<std::string, Vm> vms_;
  std::map<std::string, std::string> masters_;  // pool ref -> master host ref
  std::map<std::string, Pbd> pbds_;
  std::set<std::string> messages_;  // uuids (else refs) already reported
};

}  // namespace fb
