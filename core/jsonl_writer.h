// Append-only JSON-lines file. Each record is one write(2) of one line, so a
// crash loses at most the record being written and never leaves a torn file
// that earlier records cannot be read from. Thread-safe; not for the I/O path.
#pragma once

#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace fb {

class JsonlWriter {
 public:
  JsonlWriter() = default;
  ~JsonlWriter();
  JsonlWriter(const JsonlWriter&) = delete;
  JsonlWriter& operator=(const JsonlWriter&) = delete;

  Status Open(const std::string& path);
  Status Append(const nlohmann::json& record);
  // Forces written records to stable storage (fdatasync).
  Status Sync();
  void Close();
  const std::string& path() const { return path_; }
  bool is_open() const { return fd_ >= 0; }

 private:
  std::mutex mu_;
  int fd_ = -1;
  std::string path_;
  std::string line_;
};

// Writes `text` to `path` atomically (temporary file, fsync, rename).
Status WriteFileAtomic(const std::string& path, const std::string& text);
Result<std::string> ReadFile(const std::string& path);

}  // namespace fb
