"""The three PATCH flavours kube-apiserver accepts for built-in types, for the stand-in's kinds.

Pure functions on JSON values (dicts, lists, scalars). They raise PatchError for a
patch that cannot apply; the HTTP layer turns that into a Status (400 or 422).
"""

import copy

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
SUPPORTED = (MERGE, STRATEGIC, JSON_PATCH)


class PatchError(Exception):
    """A patch that is well-formed JSON but cannot be applied (the server says 422)."""


def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Node's patch strategies, from the Go struct tags of k8s.io/api/core/v1 and
# apimachinery's ObjectMeta: lists named here merge (by the key, or as a set of
# primitives when the key is None); every other list is replaced whole. status.conditions
# merges by type in a Pod and a Namespace too; a Pod's other lists are replaced.
_MERGE_KEYS = {
    ("metadata", "finalizers"): None,
    ("metadata", "ownerReferences"): "uid",
    ("spec", "podCIDRs"): None,
    ("status", "conditions"): "type",
    ("status", "addresses"): "type",
    ("status", "volumesAttached"): "name",
}


def strategic_merge_patch(target, patch):
    """Strategic merge patch for a Node: maps merge, listed lists merge by key."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    return _smp_map(target if isinstance(target, dict) else {}, patch, ())


def _smp_map(target, patch, path):
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target)
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            # Element order only matters to kubectl apply's diff; the stored order is kept.
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
            continue
        sub = path + (key,)
        current = result.get(key)
        if isinstance(value, dict):
            merged = _smp_map(current if isinstance(current, dict) else {}, value, sub)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and sub in _MERGE_KEYS:
            result[key] = _smp_list(current if isinstance(current, list) else [], value,
                                    _MERGE_KEYS[sub], sub)
        else:
            result[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _smp_list(current, patch, merge_key, path):
    if merge_key is None:
        result = list(current)
        for value in patch:
            if value not in result:
                result.append(copy.deepcopy(value))
        return result
    result = copy.deepcopy(current)
    patched = []  # merge keys of the elements the patch sets, in the patch's order
    for element in patch:
        if not isinstance(element, dict) or merge_key not in element:
            raise PatchError(f"{'.'.join(path)}: every element needs the merge key "
                             f"{merge_key!r}, got {element!r}")
        index = next((i for i, e in enumerate(result)
                      if isinstance(e, dict) and e.get(merge_key) == element[merge_key]), None)
        if element.get("$patch") == "delete":
            if index is not None:
                del result[index]
            continue
        if element.get("$patch") == "replace":
            raise PatchError(f"{'.'.join(path)}: $patch replace inside a list element "
                             "is not supported")
        if index is None:
            result.append({k: copy.deepcopy(v) for k, v in element.items() if v is not None})
        else:
            result[index] = _smp_map(result[index], element, path)
        if element[merge_key] not in patched:
            patched.append(element[merge_key])
    return _element_order(result, patched, current, merge_key)


def _element_order(merged, patched, current, merge_key):
    """The order kube-apiserver's strategic merge gives a merged list: the patch's elements
    in the patch's order, the others in their stored order, the two interleaved so that
    an element of each keeps its stored place relative to the other where both were stored;
    an element new to the list goes before the stored ones it meets (a new condition comes
    first: [Ready] patched with NetworkUnavailable is [NetworkUnavailable, Ready])."""
    def key(e):
        return e.get(merge_key) if isinstance(e, dict) else None

    stored = [key(e) for e in current]
    by_key = {key(e): e for e in merged}
    right = [by_key[k] for k in patched if k in by_key]
    left = [e for e in merged if key(e) not in patched]
    out, i, j = [], 0, 0
    while i < len(left) or j < len(right):
        if j == len(right):
            out.append(left[i])
            i += 1
        elif i == len(left):
            out.append(right[j])
            j += 1
        else:
            li, ri = key(left[i]), key(right[j])
            if li in stored and ri in stored and stored.index(li) < stored.index(ri):
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def json_patch(target, operations):
    """RFC 6902 JSON patch: add, remove, replace, move, copy, test."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a JSON array of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"JSON patch operation needs 'op' and 'path': {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, _need_value(op))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            doc, _ = _remove(doc, path)
            doc = _add(doc, path, _need_value(op))
        elif kind in ("move", "copy"):
            if "from" not in op:
                raise PatchError(f"JSON patch {kind} needs 'from': {op!r}")
            if kind == "move":
                doc, value = _remove(doc, op["from"])
            else:
                value = copy.deepcopy(_get(doc, op["from"]))
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != _need_value(op):
                raise PatchError(f"JSON patch test failed at {path}")
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}")
    return doc


def _need_value(op):
    if "value" not in op:
        raise PatchError(f"JSON patch {op['op']} needs 'value': {op!r}")
    return copy.deepcopy(op["value"])


def _tokens(pointer):
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"JSON pointer must start with '/': {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container, token, pointer, allow_end=False):
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit():
        raise PatchError(f"{pointer}: {token!r} is not an array index")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"{pointer}: index {index} is out of range")
    return index


def _parent(doc, pointer):
    tokens = _tokens(pointer)
    if not tokens:
        return None, None
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, pointer)]
        else:
            raise PatchError(f"{pointer}: path does not exist")
    return node, tokens[-1]


def _get(doc, pointer):
    parent, last = _parent(doc, pointer)
    if parent is None and last is None:
        return doc
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, pointer)]
    raise PatchError(f"{pointer}: path does not exist")


def _add(doc, pointer, value):
    parent, last = _parent(doc, pointer)
    if parent is None and last is None:
        return value
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, pointer, allow_end=True), value)
    else:
        raise PatchError(f"{pointer}: parent is not an object or array")
    return doc


def _remove(doc, pointer):
    parent, last = _parent(doc, pointer)
    if parent is None and last is None:
        raise PatchError("cannot remove the whole document")
    if isinstance(parent, dict) and last in parent:
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, pointer))
    raise PatchError(f"{pointer}: path does not exist")


def apply(content_type, target, patch):
    if content_type == MERGE:
        return merge_patch(target, patch)
    if content_type == STRATEGIC:
        return strategic_merge_patch(target, patch)
    if content_type == JSON_PATCH:
        return json_patch(target, patch)
    raise ValueError(content_type)
