package openapi

// Fragments of the document that no type of package api describes, kept
// by hand as JSON: the schemas of the operational routes and of the
// Uppy-compatible /s3 routes (whose Go types live with their handlers in
// broker/httpapi, lenient as Companion is), and the parameters.

// handSchemas are component schemas written by hand (a JSON object of
// name to schema; the generator keeps their order).
const handSchemas = `{
	"Health": {
		"type": "object",
		"required": [
			"status"
		],
		"additionalProperties": false,
		"properties": {
			"status": {
				"const": "ok"
			}
		}
	},
	"NotReady": {
		"type": "object",
		"required": [
			"status",
			"error"
		],
		"additionalProperties": false,
		"properties": {
			"status": {
				"const": "unavailable"
			},
			"error": {
				"type": "string",
				"description": "The failing dependency, without addresses or credentials."
			}
		}
	},
	"CompanionParams": {
		"type": "object",
		"required": [
			"method",
			"url",
			"fields",
			"expires"
		],
		"additionalProperties": false,
		"description": "A presigned POST policy: POST a multipart/form-data form to url with every field, the file last. For a backend whose store takes no POST policy uploads (provider r2, b2) and a request with size: a presigned PUT instead (method PUT, fields empty, send exactly these headers).",
		"properties": {
			"method": {
				"enum": [
					"POST",
					"PUT"
				]
			},
			"headers": {
				"type": "object",
				"additionalProperties": {
					"type": "string"
				},
				"description": "Headers a PUT must carry (Content-Length and Content-Type are signed)."
			},
			"url": {
				"type": "string",
				"format": "uri"
			},
			"fields": {
				"type": "object",
				"additionalProperties": {
					"type": "string"
				}
			},
			"expires": {
				"type": "integer",
				"minimum": 0,
				"description": "Seconds the policy stays valid."
			}
		}
	},
	"CompanionCreateRequest": {
		"type": "object",
		"properties": {
			"filename": {
				"type": "string"
			},
			"type": {
				"type": "string",
				"description": "The content type."
			},
			"metadata": {
				"type": "object",
				"additionalProperties": {
					"type": [
						"string",
						"number",
						"boolean",
						"null"
					]
				},
				"description": "Uppy's metadata; name, type and relativePath are dropped, other values stored as text."
			},
			"profile": {
				"type": "string",
				"default": "default"
			}
		}
	},
	"CompanionUpload": {
		"type": "object",
		"required": [
			"key",
			"uploadId",
			"bucket"
		],
		"additionalProperties": false,
		"properties": {
			"key": {
				"$ref": "#/components/schemas/Key"
			},
			"uploadId": {
				"$ref": "#/components/schemas/UploadID"
			},
			"bucket": {
				"type": "string"
			}
		}
	},
	"CompanionSigned": {
		"type": "object",
		"required": [
			"url",
			"expires"
		],
		"additionalProperties": false,
		"properties": {
			"url": {
				"type": "string",
				"format": "uri"
			},
			"expires": {
				"type": "integer",
				"minimum": 0,
				"description": "Seconds the URL stays valid."
			},
			"headers": {
				"type": "object",
				"additionalProperties": {
					"type": "string"
				}
			}
		}
	},
	"CompanionPart": {
		"type": "object",
		"required": [
			"PartNumber",
			"ETag",
			"Size"
		],
		"additionalProperties": false,
		"properties": {
			"PartNumber": {
				"$ref": "#/components/schemas/PartNumber"
			},
			"ETag": {
				"type": "string",
				"description": "Quoted, as S3 gives it."
			},
			"Size": {
				"$ref": "#/components/schemas/Size"
			}
		}
	},
	"CompanionCompleteRequest": {
		"type": "object",
		"required": [
			"parts"
		],
		"properties": {
			"parts": {
				"type": "array",
				"items": {
					"type": "object",
					"required": [
						"PartNumber",
						"ETag"
					],
					"properties": {
						"PartNumber": {
							"$ref": "#/components/schemas/PartNumber"
						},
						"ETag": {
							"type": "string",
							"minLength": 1
						}
					}
				}
			}
		}
	},
	"CompanionComplete": {
		"type": "object",
		"required": [
			"location",
			"key",
			"bucket"
		],
		"additionalProperties": false,
		"properties": {
			"location": {
				"type": "string",
				"description": "A presigned GET of the object."
			},
			"key": {
				"$ref": "#/components/schemas/Key"
			},
			"bucket": {
				"type": "string"
			}
		}
	},
	"Empty": {
		"type": "object",
		"additionalProperties": false,
		"maxProperties": 0
	}
}`

// parameters are the document's shared parameters.
const parameters = `{
	"UploadID": {
		"name": "id",
		"in": "path",
		"required": true,
		"schema": {
			"type": "string"
		},
		"description": "The session id (upl_...). Any other value answers 404."
	},
	"PartNumberPath": {
		"name": "n",
		"in": "path",
		"required": true,
		"schema": {
			"type": "string"
		},
		"description": "A part number, 1..10000 (anything else answers 400)."
	},
	"Sync": {
		"name": "sync",
		"in": "query",
		"required": false,
		"schema": {
			"type": "string",
			"enum": [
				"true",
				"false",
				"1",
				"0"
			]
		},
		"description": "true reconciles the reported parts with the store's own list (ListParts) first."
	},
	"Key": {
		"name": "key",
		"in": "query",
		"required": true,
		"schema": {
			"type": "string",
			"minLength": 1
		},
		"description": "The object key the upload was created with."
	},
	"CompanionUploadID": {
		"name": "uploadId",
		"in": "path",
		"required": true,
		"schema": {
			"type": "string"
		},
		"description": "The uploadId of POST /s3/multipart (the session id)."
	},
	"CompanionPartNumber": {
		"name": "partNumber",
		"in": "path",
		"required": true,
		"schema": {
			"type": "string"
		},
		"description": "A part number, 1..10000."
	},
	"Token": {
		"name": "token",
		"in": "path",
		"required": true,
		"schema": {
			"type": "string",
			"minLength": 1
		},
		"description": "The bearer token, for clients that cannot send an Authorization header (Uppy)."
	}
}`
