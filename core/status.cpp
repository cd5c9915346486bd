#include "core/status.h"

#include <cstring>

namespace fb {

Status ErrnoStatus(const std::string& what, int err) {
  Status::Code code = Status::Code::kIoError;
  if (err == ENOENT || err == EINVAL || err == EACCES || err == EPERM || err == ENOTDIR ||
      err == EISDIR || err == EROFS || err == EBUSY) {
    code = Status::Code::kInvalidInput;
  }
  std::string msg = what + ": " + std::strerror(err);
  switch (code) {
    case Status::Code::kInvalidInput: return Status::InvalidInput(msg);
    default: return Status::IoError(msg);
  }
}

}  // namespace fb
