// flow_handover.h — tracked connections carried across portwalld's re-exec (SIGUSR2), so that a
// connection idle for longer than the pickup grace is not cut by an upgrade. One text line per
// flow: its key, TCP state, marks, rule, counters, the time left before it expires and the
// interface it was opened on, after a version line. Text, not the Flow's bytes: the new image
// may be another build with another Flow layout. Windows are not carried: the new image judges
// them liberally (ConnTracker::restore). Pure; the daemon moves the text through a memfd.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conntrack/flow.h"

namespace portwall {

struct HandedFlow {
  Flow flow;
  std::string interface;  // its name ("" none); ids are the image's own (Engine::interface_id)
  std::string out_interface;  // a routed flow's outgoing interface ("" none)
};

// `now`: expiries are written as time left, so that they mean the same to the reader.
std::string encode_flows(const std::vector<HandedFlow>& flows, Timestamp now);

// The flows of `text` (written by encode_flows, perhaps of another build), expiries from `now`.
// A line that does not parse is skipped; at most `most` flows are taken. Another version line
// gives none: the connections are then picked up as after a restart.
std::vector<HandedFlow> decode_flows(std::string_view text, Timestamp now, std::size_t most);

}  // namespace portwall
