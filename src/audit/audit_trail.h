// audit_trail.h — where the control plane records who changed what: one event per call, kept
// as one line (AuditLog, over spdlog). Tests give the control plane a fake that keeps the events.
#pragma once

#include <cstdint>
#include <string>

namespace portwall {

class AuditTrail {
 public:
  virtual ~AuditTrail() = default;
  // uid -1: portwalld itself (an expiry). Every value is quoted and escaped by the writer.
  virtual void record(long uid, const std::string& action, const std::string& result,
                      const std::string& detail) = 0;
  // Lines the trail could not write (a full disk), for status.
  virtual std::uint64_t failed_lines() const = 0;
};

}  // namespace portwall
