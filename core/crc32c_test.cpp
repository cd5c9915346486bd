#include "core/crc32c.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace fb {

TEST_CASE("Crc32c matches the standard check values" * doctest::test_suite("unit")) {
  CHECK(Crc32c("123456789", 9) == 0xe3069283);  // the CRC-32C check value
  std::vector<uint8_t> zeros(32, 0);
  CHECK(Crc32c(zeros.data(), zeros.size()) == 0x8a9136aa);  // RFC 3720 B.4
  std::vector<uint8_t> ones(32, 0xff);
  CHECK(Crc32c(ones.data(), ones.size()) == 0x62a8ab43);
  // Incremental equals one pass.
  std::string s = "faultbench verifies every block";
  CHECK(Crc32c(s.data() + 10, s.size() - 10, Crc32c(s.data(), 10)) == Crc32c(s.data(), s.size()));
}

}  // namespace fb
