// `array`: polls one FlashArray's REST 2.x API (docs/platform.md) and turns
// what changed since the last poll into events.
//
// Settings:
//   url: http://198.18.1.2:8080        the array's management address
//   api_token_env: FB_ARRAY_API_TOKEN (default) | api_token_file: FILE
//   tls_verify: true                   (default) check https certificates and host names
//   ca_file: FILE                      CA bundle for https (default: the system's)
//   interval: 500ms                    time between polls
//   timeout: 2s                        per request
// The REST session is platform/array_client.h's: `POST /api/2.42/login` with
// `api-token`, then every call carries the returned `x-auth-token`; a 401 logs
// in again; lists are read to their last page. Events (stamped when the poll that
// saw the change returned; attrs.window_ms bounds how much earlier it happened):
//   replication_down   a pod member left `online` while all were online
//   mediator_lost      a member went `offline` (attrs.frozen_at); mediator_won names
//                      the member that stayed `online`
//   resync_start / resync_done   a member entered / left `resyncing` (attrs.progress)
//   replication_up     every member `online` again
//   array_connection   an array-connection's status changed
//   alert              an alert not seen before, or a seen one changed state
//   probe_error        the API could not be reached or answered an error (once per
//                      outage; `probe_recovered` with the blind gap when it answers again)
#pragma once

#include "probes/probe.h"

namespace fb {

std::unique_ptr<Probe> NewArrayProbe(const std::string& name, Settings* settings);

}  // namespace fb
