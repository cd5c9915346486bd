// The project's version (CMake's project(VERSION), compiled in as FB_VERSION):
// `faultbench --version`, the packages, and the agent hello, where controller
// and agent refuse each other's different versions (agent/protocol.h).
#pragma once

#ifndef FB_VERSION
#error "FB_VERSION is set by the build (core/CMakeLists.txt)"
#endif

namespace fb {

inline constexpr const char* kVersion = FB_VERSION;

}  // namespace fb
