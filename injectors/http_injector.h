// `http`: one REST call to inject and one to revert, e.g. disabling an array's
// replication port (docs/platform.md: PATCH /api/2.42/network-interfaces?names=<port>
// with {"enabled": false}). Settings:
//   base_url                  "https://array-a.example" (required)
//   inject_method/path/body   method (POST), path (required), JSON body
//   revert_method/path/body   likewise
//   check_path, check_match   GET check_path; the fault is in effect when the
//                             response body contains check_match
//   headers                   list of "Name: value"
//   auth                      none | bearer | api_token (none)
//   token_env | token_file    where the token comes from (never the plan text)
//   login_path                api_token login (/api/2.42/login): POST with header
//                             `api-token: <token>`, session from `x-auth-token`
//   verify_tls (true), ca_file, timeout (30s)
// A non-2xx answer is an error naming the URL, the status and the body.
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewHttpInjector(const std::string& name, Settings* settings);

}  // namespace fb
