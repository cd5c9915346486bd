// Reading the fields of a record (an XAPI record, an inventory entry, a site
// file) that may lack them or hold another type: never throws, a missing or
// mistyped field reads as empty.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace fb::fields {

inline std::string Str(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}
inline const nlohmann::json& Obj(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  return j.is_object() && j.contains(key) && j[key].is_object() ? j[key] : kEmpty;
}
inline const nlohmann::json& Arr(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  return j.is_object() && j.contains(key) && j[key].is_array() ? j[key] : kEmpty;
}

}  // namespace fb::fields
