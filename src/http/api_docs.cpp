#include "http/api_docs.hpp"

#include <cctype>
#include <memory>
#include <system_error>

#include "core/version.hpp"

namespace speeddata::http {

namespace {

const char* access_name(Access a) {
    switch (a) {
        case Access::open: return "open";
        case Access::read: return "read";
        case Access::write: return "write";
    }
    return "write";
}

}  // namespace

bool serves_index_page(const std::filesystem::path& static_root) {
    if (static_root.empty()) return false;
    std::error_code ec;
    return std::filesystem::is_regular_file(static_root / "index.html", ec);
}

void add_api_docs(Router& router, const ApiDocsOptions& options) {
    const std::string_view text = openapi_document(options.service);
    // The document is ours and checked by the OpenAPI test; a broken one must still not take
    // the server down, so it is parsed without exceptions and an unreadable one gives no
    // summaries (and the test fails).
    const nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
    const nlohmann::json* paths = doc.is_object() && doc.contains("paths") && doc["paths"].is_object() ? &doc["paths"] : nullptr;
    auto operation = [&](const std::string& method, const std::string& path) -> const nlohmann::json* {
        if (!paths || !paths->contains(path)) return nullptr;
        std::string m = method;
        for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const auto& item = (*paths)[path];
        if (!item.is_object() || !item.contains(m) || !item[m].is_object()) return nullptr;
        return &item[m];
    };

    std::vector<Router::RouteInfo> routes = router.route_info();
    routes.push_back({"GET", "/api/v1", Access::read});
    routes.push_back({"GET", "/api/v1/openapi.json", Access::read});
    if (options.root_is_page)
        routes.push_back({"GET", "/", Access::open});  // a static page: open, as every page
    else
        routes.push_back({"GET", "/", Access::read});

    nlohmann::json endpoints = nlohmann::json::array();
    for (const auto& r : routes) {
        nlohmann::json e = {{"method", r.method}, {"path", r.pattern}, {"access", access_name(r.access)}};
        const nlohmann::json* op = operation(r.method, r.pattern);
        e["summary"] = op && (*op).contains("summary") && (*op)["summary"].is_string() ? (*op)["summary"].get<std::string>() : "";
        if (op && op->value("deprecated", false)) e["deprecated"] = true;
        endpoints.push_back(std::move(e));
    }
    nlohmann::json index = {
        {"service", options.service},
        {"version", speeddata::version},
        {"openapi", "/api/v1/openapi.json"},
        // What "access" means here: open never needs the token; read needs it when one is
        // configured and auth.reads is true; write whenever one is configured.
        {"auth", {{"token", options.token}, {"reads_need_token", options.token && options.protect_reads}}},
        {"endpoints", std::move(endpoints)},
    };
    auto body = std::make_shared<const std::string>(index.dump(2) + "\n");
    auto index_handler = [body](const Request&) {
        Response r;
        r.body = *body;
        return r;
    };
    router.add("GET", "/api/v1", index_handler);
    router.add("GET", "/api/v1/openapi.json", [text](const Request&) {
        Response r;
        r.body = std::string(text);
        return r;
    });
    if (!options.root_is_page) router.add("GET", "/", index_handler);
}

}  // namespace speeddata::http
