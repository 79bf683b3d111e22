"""The OpenAPI 3.1 description of the JSON API: written by hand, checked by a test against the routes and by
schemathesis against a served node (`make fuzz`). How to authenticate is in `securitySchemes`: the session
cookie of a login through /login, and for writes the CSRF token from /api/v1/csrf in a header."""

import msgspec

from node.printing.papers import KINDS, SIZES
from node.rules.workflow import TRANSITIONS

from .. import bodies

# The request bodies' schemas are made from the types that decode them (`web.bodies`): they cannot drift apart.
(_INTAKE, _STEP, _QUERY, _SEALING), _BODIES = msgspec.json.schema_components(
    (bodies.Intake, bodies.Step, bodies.Query, bodies.Sealing), ref_template="#/components/schemas/{name}"
)
_ERROR = {"$ref": "#/components/schemas/Error"}
_SUMMARY = {"$ref": "#/components/schemas/Application"}


def _ok(schema: dict, description: str = "成功") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _ok(_ERROR, "请求有误，message 说明原因（字段类型或范围不对时指明字段）"),
    "401": _ok(_ERROR, "未登录"),
    "403": _ok(_ERROR, "无权操作"),
    "404": _ok(_ERROR, "没有这个办件"),
}
_NUMBER = {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}
_PDF = {
    "description": "PDF，嵌入所用字形的子集",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
}
_READ = [{"session": []}]  # a logged-in session
_WRITE = [{"session": [], "csrf": []}]  # and the CSRF token in its header
_PUBLIC: list = []

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "OneTrip 一趟办 API", "version": "1"},
    "paths": {
        "/api/v1/status": {
            "get": {"summary": "节点状态", "security": _PUBLIC, "responses": {"200": _ok({"type": "object"})}}
        },
        "/api/v1/csrf": {
            "get": {
                "summary": "写操作所需的 CSRF 令牌（放在 X-CSRFToken 头里）",
                "security": _READ,
                "responses": {
                    "200": _ok({"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}),
                    "401": _ERRORS["401"],
                    "403": _ERRORS["403"],  # an account that must first change its password
                },
            }
        },
        "/api/v1/query": {
            "post": {
                "summary": "办件查询（无需登录）：查询码或办件编号，加申请人身份证号后四位",
                "security": _PUBLIC,
                "requestBody": {"required": True, "content": {"application/json": {"schema": _QUERY}}},
                "responses": {
                    "200": _ok({"$ref": "#/components/schemas/Tracking"}),
                    "400": _ERRORS["400"],
                    "404": _ok(_ERROR, "没有查到（查询码不存在与身份证号后四位不对，回答相同）"),
                    "429": {
                        "description": "查询太频繁，或该办件连续输错已锁定；Retry-After 头给出秒数",
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                },
            }
        },
        "/api/v1/applications": {
            "get": {
                "summary": "办件列表，可按办件编号、姓名或完整身份证号查找",
                "security": _READ,
                "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                    {"name": "older", "in": "query", "schema": {"type": "string"}, "description": "下一页"},
                    {"name": "newer", "in": "query", "schema": {"type": "string"}, "description": "上一页"},
                    {"name": "due", "in": "query", "schema": {"type": "string", "enum": ["due_soon", "overdue"]}},
                    {
                        "name": "state",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["waiting", "corrections", "review", "deferred"]},
                        "description": "待受理、待补正、审查中、容缺待补",
                    },
                ],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "properties": {
                                "total": {"type": "integer"},
                                "newer": {"type": ["string", "null"]},
                                "older": {"type": ["string", "null"]},
                                "items": {"type": "array", "items": _SUMMARY},
                            },
                        }
                    ),
                    "400": _ERRORS["400"],  # a query holding NUL
                    "401": _ERRORS["401"],
                    "403": _ERRORS["403"],  # an account that must first change its password
                },
            },
            "post": {
                "summary": "代办：为居民提交一个事项（item）或一件事（bundle）",
                "security": _WRITE,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _INTAKE}},
                },
                "responses": {
                    "201": _ok(
                        {"type": "object", "properties": {"numbers": {"type": "array", "items": {"type": "string"}}}}
                    ),
                    **_ERRORS,
                },
            },
        },
        "/api/v1/applications/{number}": {
            "get": {
                "summary": "一个办件及其经过",
                "security": _READ,
                "parameters": [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _ok(_SUMMARY), **_ERRORS},
            },
        },
        "/api/v1/applications/{number}/documents/{doc}.pdf": {
            "get": {
                "summary": "打印文书（PDF）：receipt 受理回执或材料接收凭证，notice 一次性告知书，decision 办结通知书",
                "security": _READ,
                "parameters": [
                    {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "doc", "in": "path", "required": True, "schema": {"type": "string", "enum": list(KINDS)}},
                    {"name": "size", "in": "query", "schema": {"type": "string", "enum": list(SIZES), "default": "A4"}},
                ],
                "responses": {
                    "200": {
                        "description": "PDF，嵌入所用字形的子集",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **_ERRORS,
                },
            }
        },
        "/api/v1/applications/{number}/documents/{doc}/sealed.pdf": {
            "post": {
                "summary": "盖章文书（PDF，PAdES 签名并带核验二维码）：用本机的一枚印章，凭持章人口令",
                "security": _WRITE,
                "parameters": [
                    _NUMBER,
                    {"name": "doc", "in": "path", "required": True, "schema": {"type": "string", "enum": list(KINDS)}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _SEALING}}},
                "responses": {"200": _PDF, **_ERRORS},
            }
        },
        "/api/v1/applications/{number}/materials": {
            "get": {
                "summary": "办件的材料扫描件、办理结果与电子证照",
                "security": _READ,
                "parameters": [_NUMBER],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "properties": {
                                "items": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "material": {"type": "string"},
                                            "blob": {"type": "string"},
                                            "content_type": {"type": "string"},
                                            "size": {"type": "integer"},
                                            "by": {"type": "string"},
                                        },
                                    },
                                }
                            },
                        }
                    ),
                    **_ERRORS,
                },
            }
        },
        "/api/v1/applications/{number}/materials/{material}": {
            "post": {
                "summary": "上传一份扫描件（JPEG、PNG 或 PDF，请求体即文件）；result:名称 为办理结果（窗口人员）",
                "security": _WRITE,
                "parameters": [
                    _NUMBER,
                    {"name": "material", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        kind: {"schema": {"type": "string", "format": "binary"}}
                        for kind in ("image/jpeg", "image/png", "application/pdf")
                    },
                },
                "responses": {
                    "201": _ok({"type": "object", "properties": {"blob": {"type": "string"}}}),
                    **_ERRORS,
                },
            },
            "get": {
                "summary": "取回一份扫描件或办理结果（material 处填 blob 摘要）",
                "security": _READ,
                "parameters": [
                    _NUMBER,
                    {"name": "material", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "文件本身",
                        "content": {
                            kind: {"schema": {"type": "string", "format": "binary"}}
                            for kind in ("image/jpeg", "image/png", "application/pdf")
                        },
                    },
                    **_ERRORS,
                },
            },
        },
        "/api/v1/applications/{number}/{event}": {
            "post": {
                "summary": "办理一步：受理、补正、决定、送达、评价、撤回……",
                "security": _WRITE,
                "parameters": [
                    {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "event",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": sorted(TRANSITIONS)},
                    },
                ],
                "requestBody": {"content": {"application/json": {"schema": _STEP}}},
                "responses": {"200": _ok(_SUMMARY), **_ERRORS},
            }
        },
    },
    "security": _READ,
    "components": {
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            "csrf": {
                "type": "apiKey",
                "in": "header",
                "name": "X-CSRFToken",
                "description": "写操作（POST）所需：登录后 GET /api/v1/csrf 取得，与会话绑定",
            },
        },
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {
                    "error": {"type": "string"},
                    "message": {"type": "string"},
                    "problems": {"type": "array", "items": {"type": "string"}},
                },
            },
            "Application": {
                "type": "object",
                "properties": {
                    "number": {"type": "string"},
                    "station": {"type": "string"},
                    "item": {"type": "string"},
                    "bundle": {"type": ["string", "null"]},
                    "state": {"type": "string"},
                    "masked_id": {"type": "string"},
                    "filed_on": {"type": "string", "format": "date"},
                    "due": {"type": ["string", "null"], "format": "date"},
                    "due_provisional": {"type": "boolean"},
                    "deferral_owed": {"type": "integer", "description": "容缺受理后尚未补齐的材料数"},
                    "deferral_due": {"type": ["string", "null"], "format": "date", "description": "容缺材料补齐期限"},
                },
            },
            "Tracking": {
                "type": "object",
                "required": ["number", "item", "masked_name", "state", "timeline", "due", "due_provisional"],
                "properties": {
                    "number": {"type": "string"},
                    "item": {"type": "string"},
                    "masked_name": {"type": "string"},
                    "state": {"type": "string", "description": "办件状态，用平常话说"},
                    "timeline": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["at", "body", "what"],
                            "properties": {
                                "at": {"type": "string", "format": "date-time", "description": "北京时间"},
                                "body": {"type": "string", "description": "办理单位（站点名称）"},
                                "what": {"type": "string"},
                            },
                        },
                    },
                    "due": {"type": ["string", "null"], "format": "date"},
                    "due_provisional": {"type": "boolean"},
                    "promise": {"type": "string"},
                    "missing": {"type": "array", "items": {"type": "string"}},
                    "deferred": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "容缺受理时尚未提交、仍须补齐的材料",
                    },
                    "deferral_note": {"type": "string", "description": "容缺材料的补齐期限及逾期后果"},
                    "collect": {"type": "string"},
                    "results": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "已出具的办理结果（批文、证照）名称",
                    },
                    "licences": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "作出决定的单位已加盖电子印章的电子证照名称（凭证照上的二维码核验）",
                    },
                    "parts": {
                        "type": "array",
                        "description": "一件事：本件包含的各事项及其进度（单一事项为空）",
                        "items": {
                            "type": "object",
                            "properties": {
                                "number": {"type": "string"},
                                "item": {"type": "string"},
                                "state": {"type": "string"},
                                "promise": {"type": "string"},
                            },
                        },
                    },
                },
            },
            **_BODIES,
        },
    },
}
