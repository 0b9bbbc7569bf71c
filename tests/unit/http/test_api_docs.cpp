// http/api_docs: the embedded OpenAPI documents and the index made from a Router's routes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/api_docs.hpp"

using namespace speeddata::http;

namespace {

nlohmann::json get_json(const Router& r, const std::string& path, int* status = nullptr) {
    Request req;
    req.method = "GET";
    req.target = req.path = path;
    Response resp = r.dispatch(req);
    if (status) *status = resp.status;
    return nlohmann::json::parse(resp.body);
}

}  // namespace

TEST(ApiDocs, EveryServiceHasAnOpenApi3Document) {
    for (const char* s : {"orchestrator", "stripchart", "pivot"}) {
        const auto text = openapi_document(s);
        ASSERT_FALSE(text.empty()) << s;
        const auto doc = nlohmann::json::parse(text.begin(), text.end());
        EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.") << s;
        EXPECT_TRUE(doc["paths"].contains("/api/v1")) << s;
        EXPECT_TRUE(doc["paths"].contains("/api/v1/openapi.json")) << s;
    }
    EXPECT_TRUE(openapi_document("nothing").empty());
}

TEST(ApiDocs, IndexListsTheRoutesWithSummariesAndAccess) {
    Router r;
    r.add("GET", "/api/v1/health", [](const Request&) { return Response::json(200, {}); }, Access::open);
    r.add("DELETE", "/api/v1/tags/{id}", [](const Request&) { return Response::json(200, {}); });
    r.add("GET", "/api/v1/undocumented", [](const Request&) { return Response::json(200, {}); });
    add_api_docs(r, {"pivot", false, true, false});
    int status = 0;
    const auto index = get_json(r, "/api/v1", &status);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(index["service"], "pivot");
    EXPECT_EQ(index["auth"], (nlohmann::json{{"token", true}, {"reads_need_token", false}}));
    std::map<std::string, nlohmann::json> by;
    for (const auto& e : index["endpoints"]) by[e["method"].get<std::string>() + " " + e["path"].get<std::string>()] = e;
    ASSERT_EQ(by.size(), 6u);
    EXPECT_EQ(by["GET /api/v1/health"]["access"], "open");
    EXPECT_EQ(by["DELETE /api/v1/tags/{id}"]["access"], "write");
    EXPECT_EQ(by["DELETE /api/v1/tags/{id}"]["summary"], "Delete a tag and its file");
    EXPECT_EQ(by["GET /api/v1/undocumented"]["summary"], "");  // what the OpenAPI test catches
    EXPECT_EQ(by["GET /api/v1"]["access"], "read");
    EXPECT_EQ(by["GET /"]["access"], "read");
    // No page: / is the index; the document is served as written.
    EXPECT_EQ(get_json(r, "/"), index);
    EXPECT_EQ(get_json(r, "/api/v1/openapi.json"), nlohmann::json::parse(openapi_document("pivot")));
}

TEST(ApiDocs, APageAtTheRootIsKept) {
    Router r;
    add_api_docs(r, {"orchestrator", true, false, true});
    EXPECT_FALSE(r.find("GET", "/").handler);  // the static index.html answers
    const auto index = get_json(r, "/api/v1");
    bool listed = false;
    for (const auto& e : index["endpoints"])
        if (e["path"] == "/") listed = e["access"] == "open" && !e["summary"].get<std::string>().empty();
    EXPECT_TRUE(listed);
}
