// The self-description every server gives: GET /api/v1 (an index of its endpoints, made from
// the Router's own routes) and GET /api/v1/openapi.json (docs/openapi/<service>.json, embedded
// into the executable at build time and served as written). docs/ARCHITECTURE.md, "API index".
#pragma once

#include <string>
#include <string_view>

#include "http/server.hpp"

namespace speeddata::http {

// The OpenAPI document of a service ("orchestrator", "stripchart", "pivot") as written in
// docs/openapi/<service>.json, or "" for another name.
std::string_view openapi_document(std::string_view service);

struct ApiDocsOptions {
    std::string service;             // "pivot": picks docs/openapi/pivot.json
    // What GET / is: the index too (no page there), or a static page (index.html under the
    // server's static root), which the index then lists as a page.
    bool root_is_page = false;
    bool token = false;              // a bearer token is configured
    bool protect_reads = true;       // ServerOptions::protect_reads (auth.reads)
};

// Adds GET /api/v1, GET /api/v1/openapi.json and, unless root_is_page, GET / (all reads).
// Call it after every other route: the index lists the routes registered so far, each with
// the summary of its OpenAPI operation ("" when the document lacks it, which the OpenAPI
// test catches).
void add_api_docs(Router& router, const ApiDocsOptions& options);

// True when static_root holds an index.html (what GET / then serves).
bool serves_index_page(const std::filesystem::path& static_root);

}  // namespace speeddata::http
