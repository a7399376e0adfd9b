// Evaluates a ValidatingAdmissionPolicy of a manifest the way the API server does for one
// request: matchConditions, then variables in order, then every validation, with CEL (Buf's
// conformance-tested evaluator @bufbuild/cel, pinned in package-lock.json; its engines, unlike
// cel-js's, include Debian 12's Node.js 18).
// usage: node eval_policy.js POLICY.yaml REQUEST.json
//   REQUEST.json: {"object":…, "oldObject":…, "request":{"userInfo":…}}
// prints {"matched":bool,"denied":[messages of failed validations],"errors":[…]}
"use strict";
const fs = require("fs");
const yaml = require("js-yaml");

async function main() {
  const { run } = await import("@bufbuild/cel");
  const [policyFile, requestFile] = process.argv.slice(2);
  const policy = yaml
    .loadAll(fs.readFileSync(policyFile, "utf8"))
    .find((d) => d && d.kind === "ValidatingAdmissionPolicy");
  const input = JSON.parse(fs.readFileSync(requestFile, "utf8"));
  const ctx = { object: input.object, oldObject: input.oldObject, request: input.request };
  const out = { matched: true, denied: [], errors: [] };
  for (const m of policy.spec.matchConditions || []) {
    if (run(m.expression, ctx) !== true) out.matched = false;
  }
  if (out.matched) {
    ctx.variables = {};
    for (const v of policy.spec.variables || []) ctx.variables[v.name] = run(v.expression, ctx);
    for (const v of policy.spec.validations) {
      try {
        if (run(v.expression, ctx) !== true) out.denied.push(v.message);
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
