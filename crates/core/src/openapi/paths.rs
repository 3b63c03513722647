//! The paths and operations of every resource, derived from the registry (verbs, scope,
//! subresources) in one neutral form that the v2 and v3 documents each render their own way.
//! Operation ids, actions, parameters and response codes follow upstream's (`listCoreV1NamespacedPod`,
//! `x-kubernetes-action: list`, ...).

use crate::registry::{self, Gvk, ResourceInfo, SubresourceInfo};

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    /// In the URL path (`{name}`, `{namespace}`).
    Path,
    /// In the query string.
    Query,
}

/// One parameter of an operation or path.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Its name, e.g. `fieldValidation`.
    pub name: &'static str,
    /// Path or query.
    pub location: In,
    /// Its type: `string`, `integer` or `boolean`.
    pub kind: &'static str,
    /// Upstream's description.
    pub description: &'static str,
}

/// The body an operation takes.
#[derive(Debug, Clone)]
pub enum Body {
    /// An object of this definition (create, replace, delete options).
    Object(String),
    /// A patch: one of the patch media types, described by `meta/v1` Patch.
    Patch,
}

/// One operation of a path.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `get`, `put`, `post`, `patch` or `delete`.
    pub method: &'static str,
    /// `listCoreV1NamespacedPod`, ...
    pub id: String,
    /// What it does, in upstream's words.
    pub description: String,
    /// `x-kubernetes-action`: `list`, `post`, `get`, `put`, `patch`, `delete`, `deletecollection`,
    /// `connect`.
    pub action: &'static str,
    /// `x-kubernetes-group-version-kind`.
    pub gvk: Gvk,
    /// The query parameters it takes.
    pub params: Vec<Param>,
    /// Its body, if it takes one.
    pub body: Option<Body>,
    /// Response codes and the definition each returns (`None`: plain text).
    pub responses: Vec<(u16, Option<String>)>,
    /// The operation's tag, `core_v1`, `apps_v1`, ...
    pub tag: String,
}

/// One path and its operations.
#[derive(Debug, Clone)]
pub struct PathItem {
    /// The URL path, e.g. `/api/v1/namespaces/{namespace}/pods/{name}`.
    pub path: String,
    /// Parameters shared by every operation (path parameters and `pretty`).
    pub params: Vec<Param>,
    /// The operations, in method order.
    pub operations: Vec<Operation>,
}

const fn query(name: &'static str, kind: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: In::Query,
        kind,
        description,
    }
}

const PRETTY: Param = query(
    "pretty",
    "string",
    "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
);
const DRY_RUN: Param = query(
    "dryRun",
    "string",
    "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
);
const FIELD_MANAGER: Param = query(
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
);
/// The parameter kubectl looks for on PATCH before it leaves validation to the server.
const FIELD_VALIDATION: Param = query(
    "fieldValidation",
    "string",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
);
const FORCE: Param = query(
    "force",
    "boolean",
    "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
);
const LIST_PARAMS: [Param; 10] = [
    query(
        "allowWatchBookmarks",
        "boolean",
        "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion.",
    ),
    query(
        "continue",
        "string",
        "The continue option should be set when retrieving more results from the server.",
    ),
    query(
        "fieldSelector",
        "string",
        "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    ),
    query(
        "labelSelector",
        "string",
        "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    ),
    query(
        "limit",
        "integer",
        "limit is a maximum number of responses to return for a list call.",
    ),
    query(
        "resourceVersion",
        "string",
        "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.",
    ),
    query(
        "resourceVersionMatch",
        "string",
        "resourceVersionMatch determines how resourceVersion is applied to list calls.",
    ),
    query(
        "sendInitialEvents",
        "boolean",
        "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection.",
    ),
    query(
        "timeoutSeconds",
        "integer",
        "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
    ),
    query(
        "watch",
        "boolean",
        "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
    ),
];
const GRACE_PERIOD: Param = query(
    "gracePeriodSeconds",
    "integer",
    "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately.",
);
const PROPAGATION_POLICY: Param = query(
    "propagationPolicy",
    "string",
    "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
);

/// The names of the definitions an operation refers to, resolved by the caller.
pub trait Names {
    /// The definition of a kind, if there is one.
    fn definition(&self, group: &str, version: &str, kind: &str) -> Option<String>;
}

const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";

/// Every path of one resource.
pub fn resource_paths(info: &ResourceInfo, names: &impl Names) -> Vec<PathItem> {
    let prefix = if info.group.is_empty() {
        format!("/api/{}", info.version)
    } else {
        format!("/apis/{}/{}", info.group, info.version)
    };
    let group_id = group_id(info.group, info.version);
    let tag = tag(info.group, info.version);
    let scope = if info.namespaced { "Namespaced" } else { "" };
    let collection = if info.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", info.resource)
    } else {
        format!("{prefix}/{}", info.resource)
    };
    let gvk = info.gvk();
    let own = names.definition(gvk.group, gvk.version, gvk.kind);
    let list = names.definition(gvk.group, gvk.version, &format!("{}List", gvk.kind));
    let op = |method: &'static str, verb: &str, action: &'static str, sub: &str| Operation {
        method,
        id: format!("{verb}{group_id}{scope}{}{sub}", info.kind),
        description: String::new(),
        action,
        gvk,
        params: Vec::new(),
        body: None,
        responses: Vec::new(),
        tag: tag.clone(),
    };
    let namespace_params: Vec<Param> = info
        .namespaced
        .then_some(path_param("namespace"))
        .into_iter()
        .collect();
    let with = |extra: &[Param]| -> Vec<Param> {
        let mut params: Vec<Param> = extra.to_vec();
        params.extend(namespace_params.iter().copied());
        params.push(PRETTY);
        params
    };
    let mut paths = Vec::new();
    let mut on_collection = Vec::new();
    if info.supports("list") {
        let mut list_op = op("get", "list", "list", "");
        list_op.description = format!("list or watch objects of kind {}", info.kind);
        list_op.params = LIST_PARAMS.to_vec();
        list_op.responses = vec![(200, list.clone()), (401, None)];
        on_collection.push(list_op);
    }
    if info.supports("create") {
        let mut create = op("post", "create", "post", "");
        create.description = format!("create {}", article(info.kind));
        create.params = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
        create.body = own.clone().map(Body::Object);
        create.responses = vec![
            (200, own.clone()),
            (201, own.clone()),
            (202, own.clone()),
            (401, None),
        ];
        on_collection.push(create);
    }
    if info.supports("deletecollection") {
        let mut delete = op("delete", "delete", "deletecollection", "");
        delete.id = format!("delete{group_id}Collection{scope}{}", info.kind);
        delete.description = format!("delete collection of {}", info.kind);
        delete.params = LIST_PARAMS.to_vec();
        delete
            .params
            .extend([DRY_RUN, GRACE_PERIOD, PROPAGATION_POLICY]);
        delete.body = Some(Body::Object(DELETE_OPTIONS.into()));
        delete.responses = vec![(200, Some(STATUS.into())), (401, None)];
        on_collection.push(delete);
    }
    if !on_collection.is_empty() {
        paths.push(PathItem {
            path: collection.clone(),
            params: with(&[]),
            operations: on_collection,
        });
    }
    let item = format!("{collection}/{{name}}");
    let mut on_item = Vec::new();
    if info.supports("get") {
        let mut read = op("get", "read", "get", "");
        read.description = format!("read the specified {}", info.kind);
        read.responses = vec![(200, own.clone()), (401, None)];
        on_item.push(read);
    }
    if info.supports("update") {
        on_item.push(replace(&op("put", "replace", "put", ""), info.kind, &own));
    }
    if info.supports("patch") {
        on_item.push(patch(&op("patch", "patch", "patch", ""), info.kind, &own));
    }
    if info.supports("delete") {
        let mut delete = op("delete", "delete", "delete", "");
        delete.description = format!("delete {}", article(info.kind));
        delete.params = vec![DRY_RUN, GRACE_PERIOD, PROPAGATION_POLICY];
        delete.body = Some(Body::Object(DELETE_OPTIONS.into()));
        delete.responses = vec![
            (200, Some(STATUS.into())),
            (202, Some(STATUS.into())),
            (401, None),
        ];
        on_item.push(delete);
    }
    if !on_item.is_empty() {
        paths.push(PathItem {
            path: item.clone(),
            params: with(&[path_param("name")]),
            operations: on_item,
        });
    }
    for sub in info.subresources {
        if let Some(path) = subresource_path(info, sub, &item, names, &op) {
            paths.push(PathItem {
                params: with(&[path_param("name")]),
                ..path
            });
        }
    }
    if info.namespaced && info.supports("list") {
        let mut all = op("get", "list", "list", "ForAllNamespaces");
        all.id = format!("list{group_id}{}ForAllNamespaces", info.kind);
        all.description = format!("list or watch objects of kind {}", info.kind);
        all.params = LIST_PARAMS.to_vec();
        all.responses = vec![(200, list), (401, None)];
        paths.push(PathItem {
            path: format!("{prefix}/{}", info.resource),
            params: vec![PRETTY],
            operations: vec![all],
        });
    }
    paths
}

fn replace(base: &Operation, kind: &str, own: &Option<String>) -> Operation {
    let mut replace = base.clone();
    replace.description = format!("replace the specified {kind}");
    replace.params = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
    replace.body = own.clone().map(Body::Object);
    replace.responses = vec![(200, own.clone()), (201, own.clone()), (401, None)];
    replace
}

fn patch(base: &Operation, kind: &str, own: &Option<String>) -> Operation {
    let mut patch = base.clone();
    patch.description = format!("partially update the specified {kind}");
    patch.params = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE];
    patch.body = Some(Body::Patch);
    patch.responses = vec![(200, own.clone()), (201, own.clone()), (401, None)];
    patch
}

/// The path of one subresource: `status`-like ones read, replace and patch the parent's kind (or
/// `Scale`), create-only ones (`eviction`, `binding`, `token`) post their kind, streaming ones
/// connect, `log` reads text.
fn subresource_path(
    info: &ResourceInfo,
    sub: &SubresourceInfo,
    item: &str,
    names: &impl Names,
    op: &impl Fn(&'static str, &str, &'static str, &str) -> Operation,
) -> Option<PathItem> {
    if sub.name == "proxy" {
        // Proxies take any method and a trailing path; upstream's paths for them describe no schema.
        return None;
    }
    let suffix = capitalize(sub.name);
    let gvk = info.subresource_kind(sub);
    let own = names.definition(gvk.group, gvk.version, gvk.kind);
    let mut operations = Vec::new();
    let streaming = matches!(sub.name, "exec" | "attach" | "portforward");
    for verb in sub.verbs {
        let mut operation = match (*verb, streaming) {
            ("get", true) | ("create", true) => {
                let (method, http) = if *verb == "get" {
                    ("get", "Get")
                } else {
                    ("post", "Post")
                };
                let mut connect = op(method, "connect", "connect", &suffix);
                connect.id = connect.id.replacen(
                    &group_id(info.group, info.version),
                    &format!("{}{http}", group_id(info.group, info.version)),
                    1,
                );
                connect.description =
                    format!("connect {method} requests to {} of {}", sub.name, info.kind);
                connect.responses = vec![(200, None), (401, None)];
                connect
            }
            ("get", false) => {
                let mut read = op("get", "read", "get", &suffix);
                read.description = format!("read {} of the specified {}", sub.name, info.kind);
                read.responses = vec![(200, own.clone()), (401, None)];
                read
            }
            ("update", false) => {
                let mut put = replace(&op("put", "replace", "put", &suffix), gvk.kind, &own);
                put.description = format!("replace {} of the specified {}", sub.name, info.kind);
                put
            }
            ("patch", false) => {
                let mut patched = patch(&op("patch", "patch", "patch", &suffix), gvk.kind, &own);
                patched.description = format!(
                    "partially update {} of the specified {}",
                    sub.name, info.kind
                );
                patched
            }
            ("create", false) => {
                let mut create = op("post", "create", "post", &suffix);
                create.description = format!("create {} of {}", sub.name, article(info.kind));
                create.params = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
                create.body = own.clone().map(Body::Object);
                create.responses = vec![
                    (200, own.clone()),
                    (201, own.clone()),
                    (202, own.clone()),
                    (401, None),
                ];
                create
            }
            _ => continue,
        };
        operation.gvk = gvk;
        operations.push(operation);
    }
    if sub.name == "log" {
        for operation in &mut operations {
            operation.responses = vec![(200, None), (401, None)];
        }
    }
    (!operations.is_empty()).then(|| PathItem {
        path: format!("{item}/{}", sub.name),
        params: Vec::new(),
        operations,
    })
}

fn path_param(name: &'static str) -> Param {
    Param {
        name,
        location: In::Path,
        kind: "string",
        description: match name {
            "namespace" => "object name and auth scope, such as for teams and projects",
            _ => "name of the object",
        },
    }
}

/// `CoreV1`, `AppsV1`, `NetworkingV1`, `RbacAuthorizationV1`: the group version in operation ids.
pub fn group_id(group: &str, version: &str) -> String {
    let group = if group.is_empty() {
        "Core".to_owned()
    } else {
        group
            .trim_end_matches(".k8s.io")
            .split('.')
            .map(capitalize)
            .collect()
    };
    format!("{group}{}", capitalize(version))
}

/// `core_v1`, `apps_v1`, `rbacAuthorization_v1`: the group version as an operation tag.
pub fn tag(group: &str, version: &str) -> String {
    let id = group_id(group, version);
    let group_part = id.trim_end_matches(&capitalize(version));
    let mut chars = group_part.chars();
    let lowered: String = chars
        .next()
        .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default();
    format!("{lowered}_{version}")
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn article(kind: &str) -> String {
    let vowel = kind.chars().next().is_some_and(|c| "AEIOU".contains(c));
    format!("{} {kind}", if vowel { "an" } else { "a" })
}

/// Every path of every resource in `group`/`version`.
pub fn group_version_paths(group: &str, version: &str, names: &impl Names) -> Vec<PathItem> {
    registry::resources_in(group, version)
        .flat_map(|info| resource_paths(info, names))
        .collect()
}
