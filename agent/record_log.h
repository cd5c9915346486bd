// The agent's record log, <run_dir>/records.jsonl: every record the agent
// streams, in the order it streams them, one line each:
//   {"seq":N,"stream":"samples|stalls|events","body":{...the journal's record...}}
// and, last, {"seq":N,"stream":"finished","body":{"summary":{...},"status":"..."}}.
// seq starts at 0 and grows by one per line, so a controller that lost its
// connection resumes from the first seq it did not get. The process that runs
// the load writes it; any agent process (the same one, or a later one started
// with --attach) reads it back to stream. Not for the I/O path.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/jsonl_writer.h"
#include "core/status.h"

namespace fb {

constexpr const char* kRecordLogFile = "records.jsonl";

// Follows a file that another thread or process appends lines to: each call
// returns the complete lines added since the last one (a partial last line
// waits for its newline). A missing file reads as empty until it appears.
class FileTail {
 public:
  explicit FileTail(std::string path) : path_(std::move(path)) {}
  ~FileTail();
  FileTail(const FileTail&) = delete;
  FileTail& operator=(const FileTail&) = delete;
  Status ReadLines(std::vector<std::string>* lines);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::string partial_;
};

// Appends to records.jsonl; seq continues after the lines already there.
class RecordLogWriter {
 public:
  Status Open(const std::string& run_dir);
  // Returns the seq given to the record.
  Result<uint64_t> Append(const std::string& stream, nlohmann::json body);
  uint64_t next_seq() const { return next_seq_; }
  void Close() { out_.Close(); }

 private:
  JsonlWriter out_;
  uint64_t next_seq_ = 0;
};

}  // namespace fb
