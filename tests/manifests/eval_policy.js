// Evaluates a ValidatingAdmissionPolicy of a manifest the way the API server does for one
// request: matchConditions, then variables in order, then every validation, with CEL (the
// cel-js evaluator from npm, pinned in package-lock.json).
// usage: node eval_policy.js POLICY.yaml REQUEST.json
//   REQUEST.json: {"object":…, "oldObject":…, "request":{"userInfo":…}}
// prints {"matched":bool,"denied":[messages of failed validations],"errors":[…]}
"use strict";
const fs = require("fs");
const yaml = require("js-yaml");

async function main() {
  const cel = await import("@marcbachmann/cel-js");
  const [policyFile, requestFile] = process.argv.slice(2);
  const policy = yaml
    .loadAll(fs.readFileSync(policyFile, "utf8"))
    .find((d) => d && d.kind === "ValidatingAdmissionPolicy");
  const input = JSON.parse(fs.readFileSync(requestFile, "utf8"));
  const ctx = { object: input.object, oldObject: input.oldObject, request: input.request };
  const out = { matched: true, denied: [], errors: [] };
  for (const m of policy.spec.matchConditions || []) {
    if (cel.evaluate(m.expression, ctx) !== true) out.matched = false;
  }
  if (out.matched) {
    ctx.variables = {};
    for (const v of policy.spec.variables || []) ctx.variables[v.name] = cel.evaluate(v.expression, ctx);
    for (const v of policy.spec.validations) {
      try {
        if (cel.evaluate(v.expression, ctx) !== true) out.denied.push(v.message);
      } catch (e) {
        // The API server counts an evaluation error as a failure under failurePolicy Fail.
        out.errors.push(`${v.message}: ${e.message}`);
      }
    }
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
