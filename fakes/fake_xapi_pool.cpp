#include "fakes/fake_xapi_pool.h"

#include <vector>

namespace fb {

FakeXapiPool::FakeXapiPool(int members, std::string user, std::string password)
    : svc_(std::move(user), std::move(password)) {
  std::vector<std::string> addresses;
  for (int i = 0; i < members; ++i) addresses.push_back(Address(i));
  status_ = svc_.Serve(addresses, 0);
}

}  // namespace fb
