"""Checks a PutInventory request file the way AWS would, without a network.

Usage: check_put_inventory.py FILE...

1. botocore's own SSM service model validates the request (required members, types, lengths).
2. The model's `pattern` and `max` traits, which botocore's client-side validator skips, are
   checked here for every string shape reached.
3. Inventory content rules: string values only, at most 50 keys per map, values <= 4096 chars.
4. ContentHash must equal sha256(json.dumps(Content)), as the AWS payload computes it.
Prints one line per file and exits 1 on the first problem.
"""
import hashlib
import json
import re
import sys

import botocore.session
from botocore.validate import validate_parameters


def walk(shape, value, path, problems):
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                walk(member, value[name], f"{path}.{name}", problems)
    elif shape.type_name == "list":
        maximum = shape.metadata.get("max")
        if maximum is not None and len(value) > maximum:
            problems.append(f"{path}: {len(value)} items > max {maximum}")
        for i, item in enumerate(value):
            walk(shape.member, item, f"{path}[{i}]", problems)
    elif shape.type_name == "map":
        maximum = shape.metadata.get("max")
        if maximum is not None and len(value) > maximum:
            problems.append(f"{path}: {len(value)} entries > max {maximum}")
        for key, item in value.items():
            walk(shape.key, key, f"{path}.<key {key}>", problems)
            walk(shape.value, item, f"{path}.{key}", problems)
    elif shape.type_name == "string":
        pattern = shape.metadata.get("pattern")
        if pattern and not re.search(pattern, value):
            problems.append(f"{path}: {value!r} does not match {pattern}")
        maximum = shape.metadata.get("max")
        if maximum is not None and len(value) > maximum:
            problems.append(f"{path}: length {len(value)} > max {maximum}")
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            problems.append(f"{path}: {value!r} not in {enum}")


def check(path, input_shape):
    with open(path) as handle:
        request = json.load(handle)
    validate_parameters(request, input_shape)
    problems = []
    walk(input_shape, request, "$", problems)
    for i, item in enumerate(request["Items"]):
        for j, entry in enumerate(item.get("Content", [])):
            if len(entry) > 50:
                problems.append(f"Items[{i}].Content[{j}]: {len(entry)} keys > 50")
            for key, value in entry.items():
                if not isinstance(value, str):
                    problems.append(f"Items[{i}].Content[{j}].{key}: not a string")
                elif len(value) > 4096:
                    problems.append(f"Items[{i}].Content[{j}].{key}: longer than 4096")
        digest = hashlib.sha256(json.dumps(item["Content"]).encode()).hexdigest()
        if item.get("ContentHash") != digest:
            problems.append(f"Items[{i}].ContentHash {item.get('ContentHash')} != sha256(json.dumps(Content)) {digest}")
    if problems:
        print(f"{path}: " + "; ".join(problems))
        return False
    print(f"{path}: ok ({len(request['Items'])} items, {sum(len(i.get('Content', [])) for i in request['Items'])} content maps)")
    return True


def main():
    model = botocore.session.get_session().get_service_model("ssm")
    input_shape = model.operation_model("PutInventory").input_shape
    ok = all(check(path, input_shape) for path in sys.argv[1:])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
