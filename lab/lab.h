// The local two-site metro lab (placeholder until the lab lands).
#pragma once
