// Validates every document of a Kubernetes manifest against the Kubernetes OpenAPI schema
// as packaged by kubernetes-models (generated from the upstream OpenAPI spec; each model's
// validate() runs the JSON schema of its kind). Unknown kinds are an error, not a pass.
// usage: node validate_schema.js FILE.yaml   (exit 0: all valid; 1: errors printed)
"use strict";
const fs = require("fs");
const yaml = require("js-yaml");

const groups = {
  v1: require("kubernetes-models/v1"),
  "apps/v1": require("kubernetes-models/apps/v1"),
  "rbac.authorization.k8s.io/v1": require("kubernetes-models/rbac.authorization.k8s.io/v1"),
  "scheduling.k8s.io/v1": require("kubernetes-models/scheduling.k8s.io/v1"),
  "admissionregistration.k8s.io/v1": require("kubernetes-models/admissionregistration.k8s.io/v1"),
};

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate_schema.js FILE.yaml");
  process.exit(2);
}
let failures = 0;
const docs = yaml.loadAll(fs.readFileSync(file, "utf8")).filter((d) => d !== null);
for (const [i, doc] of docs.entries()) {
  const where = `document ${i + 1} (${doc.kind} ${doc.metadata && doc.metadata.name})`;
  const group = groups[doc.apiVersion];
  const Model = group && group[doc.kind];
  if (!Model) {
    console.error(`${where}: no schema for apiVersion ${doc.apiVersion} kind ${doc.kind}`);
    failures++;
    continue;
  }
  try {
    new Model(doc).validate();
    console.log(`${where}: valid`);
  } catch (e) {
    console.error(`${where}: ${e.message}`);
    failures++;
  }
}
console.log(`${docs.length} documents, ${failures} invalid`);
process.exit(failures ? 1 : 0);
