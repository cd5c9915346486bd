#include "loadgen/local_target.h"

#include <blkid/blkid.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include "core/clock.h"
#include "core/units.h"

namespace fb {

namespace {

Status CreateFilledFile(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("create " + path, errno);
  int rc = posix_fallocate(fd, 0, off_t(size));
  if (rc != 0 && rc != EOPNOTSUPP) {
    ::close(fd);
    ::unlink(path.c_str());
    return ErrnoStatus("preallocate " + FormatSize(size) + " for " + path, rc);
  }
  // Fill with random data so reads hit real blocks, not unwritten extents.
  constexpr size_t kChunk = 1 << 20;
  std::vector<uint64_t> buf(kChunk / 8);
  std::mt19937_64 rng{uint64_t(MonoNs())};
  bool tty = isatty(2);
  int64_t last_print = MonoNs();
  for (uint64_t done = 0; done < size;) {
    for (auto& v : buf) v = rng();
    size_t n = size_t(std::min<uint64_t>(kChunk, size - done));
    ssize_t w = ::pwrite(fd, buf.data(), n, off_t(done));
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(path.c_str());
      return ErrnoStatus("fill " + path, e);
    }
    done += uint64_t(w);
    if (tty && MonoNs() - last_print > kNsPerSec / 2) {
      fprintf(stderr, "\rcreating %s: %s of %s", path.c_str(), FormatSize(done).c_str(), FormatSize(size).c_str());
      last_print = MonoNs();
    }
  }
  if (tty && size > (256u << 20)) fprintf(stderr, "\r\033[K");
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return ErrnoStatus("fsync " + path, e);
  }
  ::close(fd);
  return Status::Ok();
}

std::string ReadSysLine(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

}  // namespace

Result<std::string> FindSignature(const std::string& device_path) {
  blkid_probe pr = blkid_new_probe_from_filename(device_path.c_str());
  if (!pr) return ErrnoStatus("blkid probe " + device_path, errno ? errno : EIO);
  blkid_probe_enable_superblocks(pr, 1);
  blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL);
  blkid_probe_enable_partitions(pr, 1);
  blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
  std::string found;
  int rc = blkid_do_safeprobe(pr);
  if (rc == 0) {
    const char* type = nullptr;
    const char* label = nullptr;
    if (blkid_probe_lookup_value(pr, "TYPE", &type, nullptr) == 0 && type) {
      found = std::string("filesystem or volume signature \"") + type + "\"";
      if (blkid_probe_lookup_value(pr, "LABEL", &label, nullptr) == 0 && label) found += std::string(" labelled \"") + label + "\"";
    } else if (blkid_probe_lookup_value(pr, "PTTYPE", &type, nullptr) == 0 && type) {
      found = std::string("partition table \"") + type + "\"";
    } else {
      found = "a signature";
    }
  } else if (rc == -2) {
    found = "several conflicting signatures";
  }
  blkid_free_probe(pr);
  return found;
}

std::string FindUse(const std::string& device_path) {
  struct stat st;
  if (::stat(device_path.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) return "";
  unsigned maj = major(st.st_rdev), min = minor(st.st_rdev);
  // Mounted: this device or a partition of it.
  std::string sys = "/sys/dev/block/" + std::to_string(maj) + ":" + std::to_string(min);
  std::vector<std::string> devs{std::to_string(maj) + ":" + std::to_string(min)};
  char real[4096];
  ssize_t n = readlink(sys.c_str(), real, sizeof real - 1);
  std::string kname;
  if (n > 0) {
    real[n] = 0;
    std::string r(real);
    kname = r.substr(r.rfind('/') + 1);
    if (DIR* d = opendir(("/sys/class/block/" + kname).c_str())) {
      while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name.rfind(kname, 0) == 0 && name != kname) {
          std::string dev = ReadSysLine("/sys/class/block/" + name + "/dev");
          if (!dev.empty()) devs.push_back(dev);
        }
      }
      closedir(d);
    }
  }
  std::ifstream mi("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mi, line)) {
    std::istringstream ls(line);
    std::string id, parent, devno, root, mnt;
    ls >> id >> parent >> devno >> root >> mnt;
    for (const auto& d : devs) {
      if (devno == d) return "mounted (" + d + ") on " + mnt;
    }
  }
  if (!kname.empty()) {
    if (DIR* d = opendir(("/sys/class/block/" + kname + "/holders").c_str())) {
      std::string holders;
      while (dirent* e = readdir(d)) {
        if (e->d_name[0] != '.') holders += std::string(holders.empty() ? "" : ", ") + e->d_name;
      }
      closedir(d);
      if (!holders.empty()) return "held by " + holders;
    }
  }
  return "";
}

// A missing path in the device directory itself (/dev/sdz, /dev/mapper/x:
// devtmpfs) is a device that is not there, never a file to create. A file
// system mounted below /dev (/dev/shm, tmpfs) is a file system like any other.
static Status RefuseMissingDevice(const std::string& path) {
  std::string dir = path.substr(0, path.find_last_of('/'));
  if (dir.empty()) dir = "/";
  struct stat d, devdir;
  if (::stat(dir.c_str(), &d) != 0) return ErrnoStatus(path + " does not exist and cannot be created: " + dir, errno);
  if (::stat("/dev", &devdir) == 0 && d.st_dev == devdir.st_dev && path.rfind("/dev/", 0) == 0) {
    return Status::InvalidInput(path + ": no such device (" + dir +
                                " holds device nodes; faultbench creates a missing target only as a file on a "
                                "file system, e.g. under /var/tmp or /dev/shm)");
  }
  return Status::Ok();
}

Result<TargetInfo> PrepareLocalTarget(const Workload& w) {
  TargetInfo t;
  if (w.targets.size() != 1) return Status::InvalidInput("the libaio engine takes exactly one target path");
  const std::string& path = w.targets[0];
  t.name = path;
  t.paths = {path};
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoStatus("stat " + path, errno);
    uint64_t size = w.create_size_bytes ? w.create_size_bytes : w.offset_bytes + w.size_bytes;
    if (size == 0) return Status::InvalidInput(path + " does not exist; give --size to create it");
    FB_RETURN_IF_ERROR(RefuseMissingDevice(path));
    FB_RETURN_IF_ERROR(ValidateAgainstTarget(w, size, 512, path));  // before anything is written
    FB_RETURN_IF_ERROR(CreateFilledFile(path, size));
    if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat " + path, errno);
    t.created = true;
  }
  if (S_ISBLK(st.st_mode)) {
    t.is_block_device = true;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open " + path, errno);
    uint64_t bytes = 0;
    int lbs = 512;
    if (ioctl(fd, BLKGETSIZE64, &bytes) != 0 || ioctl(fd, BLKSSZGET, &lbs) != 0) {
      int e = errno;
      ::close(fd);
      return ErrnoStatus("read the size of " + path, e);
    }
    ::close(fd);
    t.size_bytes = bytes;
    t.logical_block_bytes = uint32_t(lbs);
    if (w.HasWrites() && !w.allow_destroy) {
      std::string use = FindUse(path);
      if (!use.empty()) {
        return Status::InvalidInput("refusing to write to " + path + ": it is " + use + " (writes would destroy its data; --allow-destroy overrides)");
      }
      auto sig = FindSignature(path);
      if (!sig.ok()) return sig.status();
      if (!sig->empty()) {
        return Status::InvalidInput("refusing to write to " + path + ": it carries a " + *sig +
                                    " (writes would destroy its data; wipe it or pass --allow-destroy)");
      }
    }
  } else if (S_ISREG(st.st_mode)) {
    t.size_bytes = uint64_t(st.st_size);
    t.logical_block_bytes = 512;
    if (t.size_bytes == 0) return Status::InvalidInput(path + " is empty; remove it or give a file with data");
  } else {
    return Status::InvalidInput(path + " is neither a regular file nor a block device");
  }
  FB_RETURN_IF_ERROR(ValidateAgainstTarget(w, t.size_bytes, t.logical_block_bytes, path));
  return t;
}

}  // namespace fb
