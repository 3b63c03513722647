#!/usr/bin/env python3
"""Generates kubers-core's protobuf field tables from k8s-pb's prost types.

For every kind the API server serves (the registry in crates/core/src/registry/resources.rs, plus the
subresource kinds Scale, Eviction and TokenRequest) and every message reachable from it, the field
numbers and wire types come from k8s-pb's generated code (`#[prost(..., tag = "N")]`), the JSON names
from k8s-openapi's serde code (the same version kubers builds with). A message field whose name the
JSON form does not have is an embedded Go struct the JSON inlines (`Volume.volumeSource`).

Writes:
  crates/core/src/protobuf/schema/generated/*.rs   the tables, one file per API package
  crates/core/tests/protobuf/fill.rs               fully populated k8s-pb objects for the test

Usage: python3 scripts/gen-protobuf-schema.py   (then `cargo fmt`)
"""

import glob
import os
import re
import sys
from collections import OrderedDict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGISTRY = os.path.expanduser("~/.cargo/registry/src")
PB = glob.glob(os.path.join(REGISTRY, "*", "k8s-pb-0.9.0", "src"))[0]
OPENAPI = glob.glob(os.path.join(REGISTRY, "*", "k8s-openapi-0.29.0", "src", "v1_34"))[0]
OUT = os.path.join(ROOT, "crates/core/src/protobuf/schema/generated")
FILL = os.path.join(ROOT, "crates/core/tests/protobuf/fill.rs")

# API group -> k8s-pb package directory.
GROUPS = {
    "": "core",
    "apps": "apps",
    "batch": "batch",
    "autoscaling": "autoscaling",
    "policy": "policy",
    "events.k8s.io": "events",
    "authentication.k8s.io": "authentication",
    "authorization.k8s.io": "authorization",
    "networking.k8s.io": "networking",
    "rbac.authorization.k8s.io": "rbac",
    "storage.k8s.io": "storage",
    "scheduling.k8s.io": "scheduling",
    "coordination.k8s.io": "coordination",
    "discovery.k8s.io": "discovery",
}
# Kinds of subresources (and the review kinds are in the registry already).
EXTRA_ROOTS = [
    ("autoscaling", "v1", "Scale"),
    ("policy", "v1", "Eviction"),
    ("authentication.k8s.io", "v1", "TokenRequest"),
]

# Go pointer fields whose zero value means something other than "unset" (a default applies to an
# unset one, or unset and false differ): encoders write zero values of every field, and JSON omits
# those of plain fields, so only these keep an explicit zero. By k8s-pb message name.
POINTERS = {
    "ObjectMeta": {"deletion_grace_period_seconds"},
    "OwnerReference": {"controller", "block_owner_deletion"},
    "PodSpec": {
        "termination_grace_period_seconds", "active_deadline_seconds",
        "automount_service_account_token", "share_process_namespace", "priority",
        "enable_service_links", "set_hostname_as_fqdn", "host_users",
    },
    "PodSecurityContext": {"run_as_user", "run_as_group", "run_as_non_root", "fs_group"},
    "SecurityContext": {
        "privileged", "run_as_user", "run_as_group", "run_as_non_root",
        "read_only_root_filesystem", "allow_privilege_escalation",
    },
    "Probe": {"termination_grace_period_seconds"},
    "Toleration": {"toleration_seconds"},
    "TopologySpreadConstraint": {"min_domains"},
    "ServiceAccount": {"automount_service_account_token"},
    "ServiceSpec": {"allocate_load_balancer_node_ports"},
    "ConfigMapVolumeSource": {"default_mode", "optional"},
    "SecretVolumeSource": {"default_mode", "optional"},
    "ProjectedVolumeSource": {"default_mode"},
    "DownwardAPIVolumeSource": {"default_mode"},
    "DownwardAPIVolumeFile": {"mode"},
    "KeyToPath": {"mode"},
    "ConfigMapProjection": {"optional"},
    "SecretProjection": {"optional"},
    "ConfigMapKeySelector": {"optional"},
    "SecretKeySelector": {"optional"},
    "ConfigMapEnvSource": {"optional"},
    "SecretEnvSource": {"optional"},
    "PersistentVolumeClaimSpec": {"storage_class_name"},
    "ReplicationControllerSpec": {"replicas"},
    "DeploymentSpec": {"replicas", "revision_history_limit", "progress_deadline_seconds"},
    "ReplicaSetSpec": {"replicas"},
    "StatefulSetSpec": {"replicas", "revision_history_limit"},
    "RollingUpdateStatefulSetStrategy": {"partition"},
    "DaemonSetSpec": {"revision_history_limit"},
    "JobSpec": {
        "parallelism", "completions", "active_deadline_seconds", "backoff_limit",
        "ttl_seconds_after_finished", "manual_selector", "suspend", "backoff_limit_per_index",
        "max_failed_indexes",
    },
    "CronJobSpec": {
        "starting_deadline_seconds", "suspend", "successful_jobs_history_limit",
        "failed_jobs_history_limit",
    },
    "HorizontalPodAutoscalerSpec": {"min_replicas", "target_cpu_utilization_percentage"},
    "HpaScalingRules": {"stabilization_window_seconds"},
    "NetworkPolicyPort": {"end_port"},
    "StorageClass": {"allow_volume_expansion"},
    "LeaseSpec": {"lease_duration_seconds", "lease_transitions"},
    "EndpointConditions": {"ready", "serving", "terminating"},
    "EndpointPort": {"port"},
    "TokenRequestSpec": {"expiration_seconds"},
}

META = "apimachinery::pkg::apis::meta::v1"
SPECIAL = {
    META + "::Time": "Time",
    META + "::MicroTime": "MicroTime",
    META + "::Duration": "Duration",
    META + "::FieldsV1": "RawJson",
    "apimachinery::pkg::runtime::RawExtension": "RawJson",
    "apimachinery::pkg::api::resource::Quantity": "Quantity",
    "apimachinery::pkg::util::intstr::IntOrString": "IntOrString",
}
# `{1: repeated string items}` wrappers JSON shows as a plain list.
STRING_LISTS = {"ExtraValue"}


def served_roots():
    text = re.sub(r"\s+", " ", open(os.path.join(ROOT, "crates/core/src/registry/resources.rs")).read())
    roots = []
    for m in re.finditer(r'res\( ?"([^"]*)", ?"([^"]*)", ?"([^"]*)", ?"([^"]*)", ?"([^"]*)"', text):
        roots.append((m.group(1), m.group(2), m.group(5)))
    for extra in EXTRA_ROOTS:
        if extra not in roots:
            roots.append(extra)
    return roots


class Field:
    def __init__(self, name, attr, rust_type):
        self.rust = name
        self.attr = attr
        self.rust_type = rust_type
        self.tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
        self.kind = attr.split(",")[0].split("=")[0].strip()  # string, int32, message, btree_map, ...
        self.repeated = "repeated" in attr.split(",")[1:] or ", repeated" in attr
        self.map = re.search(r'btree_map = "string, (\w+)"', attr)
        self.map = self.map.group(1) if self.map else None


def parse_pb():
    """module path -> OrderedDict(type name -> [Field])"""
    modules = {}
    for path in glob.glob(os.path.join(PB, "**", "mod.rs"), recursive=True):
        rel = os.path.relpath(os.path.dirname(path), PB).replace(os.sep, "::")
        text = open(path).read()
        types = OrderedDict()
        for m in re.finditer(r"pub struct (\w+) \{(.*?)\n\}", text, re.S):
            fields = []
            body = "\n".join(
                line for line in m.group(2).split("\n") if not line.strip().startswith("///")
            )
            for chunk in body.split("#[prost(")[1:]:
                attr, rest = chunk.split(")]", 1)
                f = re.match(r"\s*pub (r#)?(\w+):\s*(.*),\s*$", rest, re.S)
                if f is None:
                    sys.exit(f"cannot parse {path}: {chunk[:300]!r}")
                rust_type = re.sub(r"\s+", "", f.group(3)).rstrip(",").replace(",>", ">")
                fields.append(Field(f.group(2), attr, rust_type))
            types[m.group(1)] = fields
        if types:
            modules[rel] = types
    return modules


def parse_openapi():
    """(module path, type) -> {normalized: json name}"""
    names = {}
    for path in glob.glob(os.path.join(OPENAPI, "**", "*.rs"), recursive=True):
        rel = os.path.relpath(os.path.dirname(path), OPENAPI).replace(os.sep, "::")
        text = open(path).read()
        for m in re.finditer(r"pub struct (\w+)", text):
            pairs = re.findall(r'"([A-Za-z0-9_$-]+)" => Field::Key_(\w+)', text)
            # k8s-pb and k8s-openapi spell acronyms differently (`AwsElasticBlockStore...`,
            # `AWSElasticBlockStore...`): types are matched without case.
            names[(rel, m.group(1).lower())] = {norm(json): json for json, _ in pairs}
    return names


def norm(name):
    return name.replace("_", "").replace("$", "").lower()


def inner_type(rust_type):
    t = rust_type
    for wrapper in ("::core::option::Option<", "::prost::alloc::vec::Vec<", "::prost::alloc::boxed::Box<"):
        while t.startswith(wrapper):
            t = t[len(wrapper):-1]
    m = re.match(r".*BTreeMap<[^,]*,(.*?),?>$", t)
    if m:
        t = m.group(1)
    return t


def resolve(module, rust_type):
    """The full path (`api::core::v1::Pod`) of a message type named in `module`."""
    t = inner_type(rust_type)
    parts = module.split("::")
    segments = t.split("::")
    while segments and segments[0] == "super":
        parts = parts[:-1]
        segments = segments[1:]
    return "::".join(parts + segments)


def const_name(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return s.upper()


def file_of(module):
    # api::core::v1 -> core_v1; apimachinery::pkg::apis::meta::v1 -> meta_v1
    parts = module.split("::")
    return f"{parts[-2]}_{parts[-1]}"


def camel(rust):
    head, *rest = rust.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def main():
    pb = parse_pb()
    openapi = parse_openapi()
    roots = []
    for group, version, kind in served_roots():
        package = GROUPS.get(group)
        if package is None:
            sys.exit(f"no k8s-pb package for group {group!r}")
        module = f"api::{package}::{version}"
        if kind not in pb.get(module, {}):
            sys.exit(f"k8s-pb has no {module}::{kind}")
        roots.append((group, version, kind, f"{module}::{kind}"))

    def flattened(target, json_names):
        """Whether the JSON form shows every field of `target` in the enclosing object."""
        tmodule, tname = target.rsplit("::", 1)
        inner = set(openapi.get((tmodule, tname.lower()), {}))
        if not inner:
            # k8s-openapi has no type of its own for it (`VolumeSource`): its k8s-pb fields.
            inner = {norm(f.rust) for f in pb[tmodule][tname]}
        return bool(inner) and inner <= set(json_names)

    # Walk every message reachable from the roots.
    reachable = OrderedDict()
    recursive = set()  # (type path, field) edges that close a cycle
    stack = []

    def visit(path):
        if path in SPECIAL or path.split("::")[-1] in STRING_LISTS:
            return
        if path in stack:
            return
        if path in reachable:
            return
        module, name = path.rsplit("::", 1)
        fields = pb[module][name]
        reachable[path] = None
        stack.append(path)
        parent_names = openapi.get((module, name.lower()), {})
        for field in fields:
            if field.kind == "message" or field.map == "message":
                target = resolve(module, field.rust_type)
                if parent_names and norm(field.rust) not in parent_names:
                    tmodule, tname = target.rsplit("::", 1)
                    own = {norm(g.rust) for g in pb.get(tmodule, {}).get(tname, [])}
                    if (tmodule, tname.lower()) not in openapi and own and own <= set(parent_names):
                        # JSON flattens it into the parent and k8s-openapi has no type for it
                        # (`VolumeSource`): it takes its JSON names from the parent.
                        openapi[(tmodule, tname.lower())] = parent_names
                    elif not flattened(target, parent_names):
                        continue  # newer than the served version: left out below
                if target in stack:
                    recursive.add((path, field.rust))
                visit(target)
        stack.pop()

    for root in roots:
        visit(root[3])

    if recursive:
        sys.exit(f"recursive messages need a depth limit in the fillers: {sorted(recursive)}")

    # Emit the tables.
    by_file = OrderedDict()
    inlined = []
    pointers_used = set()
    newer = set()

    def path_of(module, name):
        return f"{module}::{name}"
    for path in reachable:
        module, name = path.rsplit("::", 1)
        by_file.setdefault(module, []).append(name)

    def ref(from_module, target):
        tmodule, tname = target.rsplit("::", 1)
        const = const_name(tname)
        return f"&{const}" if tmodule == from_module else f"&super::{file_of(tmodule)}::{const}"

    os.makedirs(OUT, exist_ok=True)
    for old in glob.glob(os.path.join(OUT, "*.rs")):
        os.remove(old)
    for module, names in by_file.items():
        rel = os.path.relpath(module.replace("::", "/"), ".")
        lines = [
            f"//! Field tables of `{rel.replace('/', '.')}` messages, generated by",
            "//! `scripts/gen-protobuf-schema.py` from k8s-pb's field tags and k8s-openapi's JSON names: do",
            "//! not edit.",
            "",
            "#[allow(unused_imports)]",
            "use super::super::{FieldSpec, Kind, Schema, field, list, pointer};",
            "",
        ]
        for name in names:
            json_names = openapi.get((module, name.lower()), {})
            lines.append(f"/// `{name}`.")
            lines.append(f"pub static {const_name(name)}: Schema = Schema {{")
            lines.append(f'    name: "{name}",')
            lines.append("    fields: &[")
            for f in pb[module][name]:
                json = json_names.get(norm(f.rust))
                if f.map:
                    value = inner_type(f.rust_type)
                    if f.map == "string":
                        kind = "Kind::StringMap"
                    elif f.map == "bytes":
                        kind = "Kind::BytesMap"
                    else:
                        target = resolve(module, f.rust_type)
                        if SPECIAL.get(target) == "Quantity":
                            kind = "Kind::QuantityMap"
                        elif SPECIAL.get(target) == "Time":
                            kind = "Kind::TimeMap"
                        elif target.split("::")[-1] in STRING_LISTS:
                            kind = "Kind::ListMap"
                        else:
                            kind = f"Kind::MessageMap({ref(module, target)})"
                    ctor = "field"
                else:
                    if f.kind == "message":
                        target = resolve(module, f.rust_type)
                        special = SPECIAL.get(target)
                        if special:
                            kind = f"Kind::{special}"
                        elif target.split("::")[-1] in STRING_LISTS:
                            kind = "Kind::StringList"
                        elif json is None and json_names and flattened(target, json_names):
                            kind = f"Kind::Inline({ref(module, target)})"
                            inlined.append(f"{name}.{f.rust}")
                        else:
                            kind = f"Kind::Message({ref(module, target)})"
                    else:
                        kind = {
                            "string": "Kind::String",
                            "bytes": "Kind::Bytes",
                            "int32": "Kind::Int",
                            "int64": "Kind::Int",
                            "bool": "Kind::Bool",
                            "double": "Kind::Double",
                        }[f.kind]
                    ctor = "list" if f.repeated else "field"
                    if f.rust in POINTERS.get(name, ()):
                        ctor = "pointer"
                        pointers_used.add((name, f.rust))
                if json is None:
                    if json_names and not kind.startswith("Kind::Inline"):
                        # Newer than the served version (k8s-pb may be a release ahead): left out,
                        # so a body setting it is refused like any unknown field.
                        newer.add((path_of(module, name), f.rust))
                        continue
                    json = camel(f.rust)
                lines.append(f'        {ctor}({f.tag}, "{json}", {kind}),')
            lines.append("    ],")
            lines.append("};")
            lines.append("")
        with open(os.path.join(OUT, file_of(module) + ".rs"), "w") as out:
            out.write("\n".join(lines))

    unused = {(t, f) for t, fields in POINTERS.items() for f in fields} - pointers_used
    if unused:
        sys.exit(f"POINTERS names fields no served message has: {sorted(unused)}")

    files = sorted(file_of(m) for m in by_file)
    lines = [
        "//! The generated field tables (`scripts/gen-protobuf-schema.py`), one module per API package, and",
        "//! the top-level kinds they serve: do not edit.",
        "",
    ]
    lines += [f"pub mod {f};" for f in files]
    lines += [
        "",
        "use super::Schema;",
        "",
        "/// The schema of a served top-level kind (`apiVersion`, `kind`).",
        "pub fn for_kind(api_version: &str, kind: &str) -> Option<&'static Schema> {",
        "    match (api_version, kind) {",
    ]
    for group, version, kind, path in roots:
        api_version = f"{group}/{version}" if group else version
        module = path.rsplit("::", 1)[0]
        lines.append(f'        ("{api_version}", "{kind}") => Some(&{file_of(module)}::{const_name(kind)}),')
    lines += ["        _ => None,", "    }", "}", ""]
    with open(os.path.join(OUT, "mod.rs"), "w") as out:
        out.write("\n".join(lines))

    # The test's fillers: every field set, values naming their field.
    fill = [
        "//! Fully populated k8s-pb objects, generated by `scripts/gen-protobuf-schema.py`: every field is",
        "//! set, strings (and map keys) to the field's own name and numbers and booleans to values derived",
        "//! from it, so the decoded JSON shows which field each value came from. Do not edit.",
        "",
        "#![allow(clippy::all, unused_imports)]",
        "",
        "use std::collections::BTreeMap;",
        "",
        "use super::{flag, number, text};",
        "",
    ]
    all_types = list(reachable)
    # special message types used as field values need their own fill expressions
    def value_expr(module, f, target=None):
        if f.map:
            key = f'"{f.rust}".to_owned()'
            if f.map == "string":
                v = f'"{f.rust}".to_owned()'
            elif f.map == "bytes":
                v = f'b"{f.rust}".to_vec()'
            else:
                v = message_expr(module, resolve(module, f.rust_type), f)
            return f"BTreeMap::from([({key}, {v})])"
        if f.kind == "message":
            v = message_expr(module, resolve(module, f.rust_type), f)
        elif f.kind == "string":
            v = f'text("{f.rust}")'
        elif f.kind == "bytes":
            v = f'b"{f.rust}".to_vec()'
        elif f.kind in ("int32", "int64"):
            v = f'number("{f.rust}") as _'
        elif f.kind == "bool":
            v = f'flag("{f.rust}")'
        elif f.kind == "double":
            v = f'number("{f.rust}") as f64 + 0.5'
        else:
            sys.exit(f"no filler for {f.kind}")
        return f"vec![{v}]" if f.repeated else f"Some({v})"

    def message_expr(module, target, f):
        tmodule, tname = target.rsplit("::", 1)
        typ = "k8s_pb::" + target
        special = SPECIAL.get(target)
        if special in ("Time", "MicroTime"):
            nanos = 123456000 if special == "MicroTime" else 0
            return f"{typ} {{ seconds: Some(1_700_000_000), nanos: Some({nanos}) }}"
        if special == "Duration":
            return f"{typ} {{ duration: Some(90_000_000_000) }}"
        if special == "RawJson":
            return f'{typ} {{ raw: Some(br#"{{"{f.rust}":"{f.rust}"}}"#.to_vec()) }}'
        if special == "Quantity":
            return f'{typ} {{ string: Some(text("{f.rust}")) }}'
        if special == "IntOrString":
            return f'{typ} {{ r#type: Some(1), int_val: None, str_val: Some(text("{f.rust}")) }}'
        if tname in STRING_LISTS:
            return f'{typ} {{ items: vec![text("{f.rust}")] }}'
        fn = "fill_" + file_of(tmodule) + "_" + const_name(tname).lower()
        return f"{fn}()"

    for path in all_types:
        module, name = path.rsplit("::", 1)
        fn = "fill_" + file_of(module) + "_" + const_name(name).lower()
        fill.append(f"pub fn {fn}() -> k8s_pb::{path} {{")
        fill.append(f"    k8s_pb::{path} {{")
        for f in pb[module][name]:
            if (path, f.rust) in newer:
                fill.append(f"        {f.rust}: Default::default(),")
                continue
            expr = value_expr(module, f)
            rust = f"r#{f.rust}" if f.rust in ("type", "ref", "continue", "override") else f.rust
            fill.append(f"        {rust}: {expr},")
        fill.append("    }")
        fill.append("}")
        fill.append("")
    fill.append("/// A populated object of every served kind: `(apiVersion, kind, encoded message)`.")
    fill.append("pub fn every_kind() -> Vec<(&'static str, &'static str, Vec<u8>)> {")
    fill.append("    use prost::Message;")
    fill.append("    vec![")
    for group, version, kind, path in roots:
        module = path.rsplit("::", 1)[0]
        api_version = f"{group}/{version}" if group else version
        fn = "fill_" + file_of(module) + "_" + const_name(kind).lower()
        fill.append(f'        ("{api_version}", "{kind}", {fn}().encode_to_vec()),')
    fill.append("    ]")
    fill.append("}")
    os.makedirs(os.path.dirname(FILL), exist_ok=True)
    with open(FILL, "w") as out:
        out.write("\n".join(fill) + "\n")

    print(f"{len(roots)} kinds, {len(reachable)} messages in {len(by_file)} packages")
    print("inlined:", ", ".join(inlined))
    print("left out (newer than the served version):", ", ".join(f"{p}.{f}" for p, f in sorted(newer)))


if __name__ == "__main__":
    main()
