// YamlTree: a minimal read-only YAML tree for tests (conformance case files), built on libyaml.
#ifndef LEAKSCOPE_TESTS_SUPPORT_YAML_TREE_H_
#define LEAKSCOPE_TESTS_SUPPORT_YAML_TREE_H_

#include <yaml.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace leakscope::testing {

struct YamlNode {
  enum class Kind { kNull, kScalar, kSeq, kMap } kind = Kind::kNull;
  std::string scalar;
  std::vector<YamlNode> items;
  std::vector<std::pair<std::string, YamlNode>> entries;

  const YamlNode* Get(const std::string& key) const {
    for (const auto& [k, v] : entries) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

inline YamlNode ConvertYamlNode(yaml_document_t* doc, yaml_node_t* n) {
  YamlNode out;
  if (n == nullptr) return out;
  switch (n->type) {
    case YAML_SCALAR_NODE:
      out.kind = YamlNode::Kind::kScalar;
      out.scalar.assign(reinterpret_cast<char*>(n->data.scalar.value), n->data.scalar.length);
      break;
    case YAML_SEQUENCE_NODE:
      out.kind = YamlNode::Kind::kSeq;
      for (auto* i = n->data.sequence.items.start; i < n->data.sequence.items.top; ++i) {
        out.items.push_back(ConvertYamlNode(doc, yaml_document_get_node(doc, *i)));
      }
      break;
    case YAML_MAPPING_NODE:
      out.kind = YamlNode::Kind::kMap;
      for (auto* p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; ++p) {
        YamlNode k = ConvertYamlNode(doc, yaml_document_get_node(doc, p->key));
        out.entries.emplace_back(k.scalar, ConvertYamlNode(doc, yaml_document_get_node(doc, p->value)));
      }
      break;
    default:
      break;
  }
  return out;
}

// Parses `text`; returns false on a YAML error.
inline bool ParseYamlTree(const std::string& text, YamlNode* out) {
  yaml_parser_t parser;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  yaml_document_t doc;
  bool ok = yaml_parser_load(&parser, &doc);
  if (ok) {
    *out = ConvertYamlNode(&doc, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
  }
  yaml_parser_delete(&parser);
  return ok;
}

}  // namespace leakscope::testing

#endif  // LEAKSCOPE_TESTS_SUPPORT_YAML_TREE_H_
