#include "pivot/column_plan.hpp"

#include <algorithm>

#include "pivot/columns.hpp"

namespace speeddata::pivot {

using avro::Node;
using avro::NodeId;
using avro::Type;

namespace {

// The value tree of the schema, before it is flattened into steps.
struct Plan {
    enum Op : uint8_t { op_col, op_record, op_nullable, op_skip, op_time } op = op_skip;
    int col = -1;      // column index (col, time)
    int mask = -1;     // nullable: the mask column
    int null_branch = 0;
    NodeId node = avro::no_node;
    std::vector<Plan> children;  // record: fields; nullable: the value plan
};

size_t elem_size(Type t) {
    switch (t) {
        case Type::boolean: return 1;
        case Type::int_type: case Type::float_type: return 4;
        case Type::long_type: case Type::double_type: return 8;
        default: return 0;
    }
}

class Compiler {
public:
    Compiler(const avro::Schema& schema, ColumnPlan& out) : schema_(schema), out_(out) {}

    int add_col(std::string name, Kind kind, std::string avro_type, size_t elem) {
        Column c;
        c.name = std::move(name);
        c.kind = kind;
        c.avro_type = std::move(avro_type);
        c.elem = elem;
        out_.cols.push_back(std::move(c));
        return static_cast<int>(out_.cols.size()) - 1;
    }

    // Builds the plan of a value of node id whose dataset name is `name`.
    Result<Plan> compile(NodeId id, const std::string& name, int depth) {
        if (depth > 32) return Status::error("schema nested too deeply for columns at '" + name + "'");
        const Node& n = schema_.node(id);
        std::vector<Column>& cols = out_.cols;
        Plan pl;
        pl.node = id;
        auto leaf = [&](Kind k, size_t elem) {
            pl.op = Plan::op_col;
            pl.col = add_col(name, k, std::string(avro::type_name(n.type)), elem);
        };
        switch (n.type) {
            case Type::null_type: pl.op = Plan::op_skip; break;
            case Type::boolean: leaf(Kind::boolean, 1); break;
            case Type::int_type: leaf(Kind::i32, 4); break;
            case Type::long_type: leaf(Kind::i64, 8); break;
            case Type::float_type: leaf(Kind::f32, 4); break;
            case Type::double_type: leaf(Kind::f64, 8); break;
            case Type::string: leaf(Kind::string, 0); break;
            case Type::bytes: leaf(Kind::bytes, 0); break;
            case Type::enum_type:
                leaf(Kind::enum_i32, 4);
                cols[pl.col].avro_type = "enum";
                cols[pl.col].symbols = n.symbols;
                break;
            case Type::fixed:
                leaf(Kind::fixed, 1);
                cols[pl.col].fixed_size = n.fixed_size;
                cols[pl.col].width = n.fixed_size;
                cols[pl.col].avro_type = "fixed";
                break;
            case Type::record:
                pl.op = Plan::op_record;
                for (const auto& f : n.fields) {
                    auto c = compile(f.type, name + field_separator + f.name, depth + 1);
                    if (!c.ok()) return c.status();
                    pl.children.push_back(std::move(*c));
                }
                break;
            case Type::array: {
                Type it = schema_.node(n.items).type;
                if (elem_size(it) > 0) {
                    leaf(Kind::array_num, elem_size(it));
                    cols[pl.col].item_type = it;
                    cols[pl.col].avro_type = "array<" + std::string(avro::type_name(it)) + ">";
                } else {
                    leaf(Kind::json, 0);
                    cols[pl.col].avro_type = "json";
                }
                break;
            }
            case Type::union_type: {
                int nulls = 0, null_at = -1, other = -1;
                for (size_t i = 0; i < n.branches.size(); ++i) {
                    if (schema_.node(n.branches[i]).type == Type::null_type) {
                        ++nulls;
                        null_at = static_cast<int>(i);
                    } else {
                        other = static_cast<int>(i);
                    }
                }
                if (n.branches.size() == 2 && nulls == 1) {
                    pl.op = Plan::op_nullable;
                    pl.null_branch = null_at;
                    auto c = compile(n.branches[other], name, depth + 1);
                    if (!c.ok()) return c.status();
                    pl.children.push_back(std::move(*c));
                    pl.mask = add_col(name + "__valid", Kind::boolean, "boolean", 1);
                    cols[pl.mask].valid_of = name;
                    if (pl.children[0].op == Plan::op_col) cols[pl.children[0].col].mask_name = name + "__valid";
                } else {
                    leaf(Kind::json, 0);
                    cols[pl.col].avro_type = "json";
                }
                break;
            }
            case Type::map:
                leaf(Kind::json, 0);
                cols[pl.col].avro_type = "json";
                break;
        }
        return pl;
    }

    void flatten(const Plan& pl) {
        std::vector<Step>& prog = out_.prog;
        switch (pl.op) {
            case Plan::op_record:
                for (const auto& ch : pl.children) flatten(ch);
                break;
            case Plan::op_nullable: {
                size_t at = prog.size();
                prog.push_back({.op = Step::nullable, .mask = pl.mask, .null_branch = pl.null_branch, .node = pl.node});
                flatten(pl.children[0]);
                prog[at].after = static_cast<uint32_t>(prog.size());
                break;
            }
            case Plan::op_time: prog.push_back({.op = Step::time, .col = pl.col, .node = pl.node}); break;
            case Plan::op_skip: prog.push_back({.op = Step::skip, .node = pl.node}); break;
            case Plan::op_col: prog.push_back({.op = Step::value, .col = pl.col, .node = pl.node}); break;
        }
    }

private:
    const avro::Schema& schema_;
    ColumnPlan& out_;
};

}  // namespace

Result<ColumnPlan> ColumnPlan::compile(const avro::Schema& schema, const std::string& time_field,
                                       const std::vector<std::string>& signals) {
    const Node& root = schema.root();
    if (root.type != Type::record) return Status::error("schema is not a record");
    ColumnPlan out;
    out.time_index = schema.field_index(time_field);
    if (out.time_index < 0) return Status::error("schema has no time field '" + time_field + "'");
    const Node& tn = schema.node(root.fields[out.time_index].type);
    out.time_type = tn.type;
    if (tn.type != Type::long_type && tn.type != Type::int_type && tn.type != Type::double_type &&
        tn.type != Type::float_type)
        return Status::error("time field '" + time_field + "' is a " + std::string(avro::type_name(tn.type)) +
                             ", not a number");
    for (const auto& s : signals) {
        if (schema.field_index(s) < 0) return Status::invalid("no signal '" + s + "'");
    }
    Compiler c(schema, out);
    Plan rp;
    rp.op = Plan::op_record;
    rp.node = schema.root_id();
    for (size_t i = 0; i < root.fields.size(); ++i) {
        const auto& f = root.fields[i];
        if (static_cast<int>(i) == out.time_index) {
            Plan t;
            t.op = Plan::op_time;
            t.node = f.type;
            t.col = c.add_col("time", Kind::i64, "time", 8);
            out.time_col = t.col;
            rp.children.push_back(std::move(t));
            continue;
        }
        bool keep = signals.empty() || std::find(signals.begin(), signals.end(), f.name) != signals.end();
        // A field named "time" that is not the time field would clash with the time dataset.
        if (f.name == "time") keep = false;
        if (!keep) {
            Plan s;
            s.op = Plan::op_skip;
            s.node = f.type;
            rp.children.push_back(std::move(s));
            continue;
        }
        auto p = c.compile(f.type, f.name, 0);
        if (!p.ok()) return p.status();
        rp.children.push_back(std::move(*p));
    }
    c.flatten(rp);
    return out;
}

}  // namespace speeddata::pivot
