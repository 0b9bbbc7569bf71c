#include "pivot/server.hpp"
namespace speeddata::pivot {
Status serve(const config::PivotConfig&) { return Status::error("not yet"); }
}
