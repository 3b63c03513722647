//! The v2 document as a protobuf gnostic `openapi.v2.Document`
//! (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`), which kubectl 1.20 requires and
//! newer kubectl falls back to. Encoded by hand from the JSON document with the wire helpers; field
//! numbers are gnostic's `OpenAPIv2.proto`. Vendor extensions are `NamedAny`s whose `Any.yaml` holds the
//! value as JSON, which is YAML.

use serde_json::{Map, Value};

use crate::protobuf::wire::Encoder;

/// Encodes a Swagger 2.0 JSON document.
pub fn encode_document(document: &Value) -> Vec<u8> {
    let entries = |key: &str| {
        document
            .get(key)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, value)| (name.clone(), value.clone()))
    };
    encode_parts(document, entries("definitions"), entries("paths"))
}

/// Encodes a Swagger 2.0 document given as its frame (everything but definitions and paths) and its
/// definitions and paths, one at a time.
pub fn encode_parts(
    frame: &Value,
    definitions: impl Iterator<Item = (String, Value)>,
    paths: impl Iterator<Item = (String, Value)>,
) -> Vec<u8> {
    let mut out = Encoder::new();
    let fields = object(frame);
    out.text(1, str_of(fields, "swagger"));
    if let Some(info) = fields.get("info") {
        out.message(2, |m| {
            let info = object(info);
            m.text(1, str_of(info, "title"));
            m.text(2, str_of(info, "version"));
            m.text(3, str_of(info, "description"));
        });
    }
    strings(&mut out, 5, fields.get("schemes"));
    strings(&mut out, 6, fields.get("consumes"));
    strings(&mut out, 7, fields.get("produces"));
    out.message(8, |m| {
        for (path, item) in paths {
            m.message(2, |named| {
                named.string(1, &path);
                named.message(2, |p| path_item(p, object(&item)));
            });
        }
    });
    out.message(9, |m| {
        for (name, schema) in definitions {
            m.message(1, |named| {
                named.string(1, &name);
                named.message(2, |s| self::schema(s, &schema));
            });
        }
    });
    if let Some(Value::Array(requirements)) = fields.get("security") {
        for requirement in requirements {
            out.message(12, |m| {
                for (name, scopes) in object(requirement) {
                    m.message(1, |named| {
                        named.string(1, name);
                        named.message(2, |array| strings(array, 1, Some(scopes)));
                    });
                }
            });
        }
    }
    if let Some(Value::Object(definitions)) = fields.get("securityDefinitions") {
        out.message(13, |m| {
            for (name, definition) in definitions {
                let definition = object(definition);
                m.message(1, |named| {
                    named.string(1, name);
                    // SecurityDefinitionsItem.api_key_security
                    named.message(2, |item| {
                        item.message(2, |key| {
                            key.text(1, str_of(definition, "type"));
                            key.text(2, str_of(definition, "name"));
                            key.text(3, str_of(definition, "in"));
                            key.text(4, str_of(definition, "description"));
                        });
                    });
                });
            }
        });
    }
    extensions(&mut out, 16, fields);
    out.into_bytes()
}

fn path_item(out: &mut Encoder, item: &Map<String, Value>) {
    for (method, number) in [
        ("get", 2),
        ("put", 3),
        ("post", 4),
        ("delete", 5),
        ("options", 6),
        ("head", 7),
        ("patch", 8),
    ] {
        if let Some(operation) = item.get(method) {
            out.message(number, |m| self::operation(m, object(operation)));
        }
    }
    parameters(out, 9, item.get("parameters"));
    extensions(out, 10, item);
}

fn operation(out: &mut Encoder, operation: &Map<String, Value>) {
    strings(out, 1, operation.get("tags"));
    out.text(2, str_of(operation, "summary"));
    out.text(3, str_of(operation, "description"));
    out.text(5, str_of(operation, "operationId"));
    strings(out, 6, operation.get("produces"));
    strings(out, 7, operation.get("consumes"));
    parameters(out, 8, operation.get("parameters"));
    if let Some(Value::Object(responses)) = operation.get("responses") {
        out.message(9, |m| {
            for (code, response) in responses {
                let response = object(response);
                m.message(1, |named| {
                    named.string(1, code);
                    // ResponseValue.response
                    named.message(2, |value| {
                        value.message(1, |r| {
                            r.text(1, str_of(response, "description"));
                            if let Some(schema) = response.get("schema") {
                                // SchemaItem.schema
                                r.message(2, |item| item.message(1, |s| self::schema(s, schema)));
                            }
                            extensions(r, 5, response);
                        });
                    });
                });
            }
        });
    }
    strings(out, 10, operation.get("schemes"));
    out.flag(11, bool_of(operation, "deprecated"));
    extensions(out, 13, operation);
}

/// `ParametersItem`s: a body parameter, or a query or path parameter.
fn parameters(out: &mut Encoder, number: u32, parameters: Option<&Value>) {
    let Some(Value::Array(parameters)) = parameters else {
        return;
    };
    for parameter in parameters {
        let parameter = object(parameter);
        out.message(number, |item| {
            // ParametersItem.parameter
            item.message(1, |p| match str_of(parameter, "in") {
                "body" => p.message(1, |body| {
                    body.text(1, str_of(parameter, "description"));
                    body.text(2, str_of(parameter, "name"));
                    body.text(3, "body");
                    body.flag(4, bool_of(parameter, "required"));
                    if let Some(schema) = parameter.get("schema") {
                        body.message(5, |s| schema_fields(s, object(schema)));
                    }
                    extensions(body, 6, parameter);
                }),
                location => p.message(2, |non_body| {
                    // NonBodyParameter: header 1, form data 2, query 3, path 4; the sub-schemas
                    // number their fields differently.
                    let (number, type_field, unique_field, extension_field) = match location {
                        "path" => (4, 5, 19, 22),
                        "header" => (1, 5, 19, 22),
                        _ => (3, 6, 20, 23),
                    };
                    non_body.message(number, |sub| {
                        sub.flag(1, bool_of(parameter, "required"));
                        sub.text(2, location);
                        sub.text(3, str_of(parameter, "description"));
                        sub.text(4, str_of(parameter, "name"));
                        sub.text(type_field, str_of(parameter, "type"));
                        sub.text(type_field + 1, str_of(parameter, "format"));
                        sub.flag(unique_field, bool_of(parameter, "uniqueItems"));
                        extensions(sub, extension_field, parameter);
                    });
                }),
            });
        });
    }
}

fn named_schemas(out: &mut Encoder, number: u32, schemas: &Map<String, Value>) {
    for (name, schema) in schemas {
        out.message(number, |named| {
            named.string(1, name);
            named.message(2, |s| self::schema(s, schema));
        });
    }
}

fn schema(out: &mut Encoder, schema: &Value) {
    schema_fields(out, object(schema));
}

fn schema_fields(out: &mut Encoder, schema: &Map<String, Value>) {
    out.text(1, str_of(schema, "$ref"));
    out.text(2, str_of(schema, "format"));
    out.text(3, str_of(schema, "title"));
    out.text(4, str_of(schema, "description"));
    if let Some(default) = schema.get("default") {
        out.message(5, |any| any_value(any, default));
    }
    out.flag(16, bool_of(schema, "uniqueItems"));
    strings(out, 19, schema.get("required"));
    if let Some(Value::Array(values)) = schema.get("enum") {
        for value in values {
            out.message(20, |any| any_value(any, value));
        }
    }
    match schema.get("additionalProperties") {
        Some(Value::Bool(allowed)) => out.message(21, |item| item.varint(2, u64::from(*allowed))),
        Some(additional @ Value::Object(_)) => {
            out.message(21, |item| item.message(1, |s| self::schema(s, additional)));
        }
        _ => {}
    }
    match schema.get("type") {
        Some(Value::String(kind)) => out.message(22, |item| item.string(1, kind)),
        Some(kinds @ Value::Array(_)) => out.message(22, |item| strings(item, 1, Some(kinds))),
        _ => {}
    }
    match schema.get("items") {
        Some(Value::Array(items)) => out.message(23, |item| {
            for each in items {
                item.message(1, |s| self::schema(s, each));
            }
        }),
        Some(items @ Value::Object(_)) => {
            out.message(23, |item| item.message(1, |s| self::schema(s, items)));
        }
        _ => {}
    }
    if let Some(Value::Array(all_of)) = schema.get("allOf") {
        for each in all_of {
            out.message(24, |s| self::schema(s, each));
        }
    }
    if let Some(Value::Object(properties)) = schema.get("properties") {
        out.message(25, |m| named_schemas(m, 1, properties));
    }
    out.flag(27, bool_of(schema, "readOnly"));
    if let Some(example) = schema.get("example") {
        out.message(30, |any| any_value(any, example));
    }
    extensions(out, 31, schema);
}

/// Every `x-` key of `fields` as a `NamedAny`.
fn extensions(out: &mut Encoder, number: u32, fields: &Map<String, Value>) {
    for (name, value) in fields.iter().filter(|(name, _)| name.starts_with("x-")) {
        out.message(number, |named| {
            named.string(1, name);
            named.message(2, |any| any_value(any, value));
        });
    }
}

/// An `Any` holding `value` as YAML (JSON text is YAML).
fn any_value(out: &mut Encoder, value: &Value) {
    out.string(2, &value.to_string());
}

fn strings(out: &mut Encoder, number: u32, values: Option<&Value>) {
    if let Some(Value::Array(values)) = values {
        for value in values {
            out.string(number, value.as_str().unwrap_or_default());
        }
    }
}

fn object(value: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    value
        .as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

fn str_of<'a>(fields: &'a Map<String, Value>, key: &str) -> &'a str {
    fields.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn bool_of(fields: &Map<String, Value>, key: &str) -> bool {
    fields.get(key).and_then(Value::as_bool).unwrap_or(false)
}
