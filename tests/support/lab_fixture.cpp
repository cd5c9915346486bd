#include "tests/support/lab_fixture.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/clock.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb::labtest {

LabSession::LabSession(lab::LabOptions options) {
  auto lock = lab::LabLock::Acquire(120 * kNsPerSec);
  if (!lock.ok()) {
    error_ = lock.status().message();
    return;
  }
  lock_.emplace(std::move(*lock));
  options.sim_path = (std::filesystem::path(FB_CLI_PATH).parent_path() / lab::kSimExecutable).string();
  auto info = lab_.Up(options);
  if (!info.ok()) {
    error_ = info.status().message();
    return;
  }
  info_ = *info;
  if (info_.already_up) error_ = "a lab was already up (made by someone else): refusing to use its settings";
}

LabSession::~LabSession() {
  if (!lock_) return;
  Status s = lab_.Down();
  if (!s.ok()) MESSAGE("lab down: " << s.message());
}

bool CanRunLab() {
  if (!IsRoot()) {
    Skip("the lab needs root");
    return false;
  }
  return true;
}

std::optional<json> FindEvent(const std::vector<json>& events, const std::string& kind,
                              const std::string& site, int64_t since_utc_ns) {
  for (const json& e : events) {
    if (e.value("kind", "") != kind) continue;
    if (!site.empty() && e.value("site", "") != site) continue;
    if (e.value("t_utc_ns", int64_t(0)) < since_utc_ns) continue;
    return e;
  }
  return std::nullopt;
}

int64_t TimeOf(const std::optional<json>& event) { return event ? event->value("t_utc_ns", int64_t(0)) : 0; }

int64_t SignalNsOf(const std::optional<json>& event) {
  if (!event || !event->contains("attrs")) return 0;
  return int64_t(std::llround((*event)["attrs"].value("signal_ms", 0.0) * 1e6));
}

std::vector<json> WaitForLabEvents(const std::string& path, int64_t timeout_ns,
                                   bool (*pred)(const std::vector<json>&, int64_t), int64_t since_utc_ns) {
  int64_t deadline = MonoNs() + timeout_ns;
  std::vector<json> ev = ReadJsonl(path);
  while (!pred(ev, since_utc_ns) && MonoNs() < deadline) {
    usleep(50'000);
    ev = ReadJsonl(path);
  }
  return ev;
}

double Ms(int64_t ns) { return double(ns) / 1e6; }

}  // namespace fb::labtest
