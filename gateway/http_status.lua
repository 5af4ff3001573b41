-- Lets a service choose the HTTP status of a transcoded response, and keeps bodies off the
-- responses that must not have one. On the way in it refuses REST bodies that are not JSON (415:
-- the transcoder would parse any content type as JSON); on the way out it names the field at fault
-- in the gateway's own 400s (the transcoder says "items[0].score: invalid value ..." in prose).
--
-- A gRPC service cannot set an HTTP status, so it sends the wanted one (e.g. "304") as the
-- initial-metadata header `x-http-status`; the transcoder turns that into a response header,
-- and this filter (which sees the response after the transcoder) moves it into `:status`.
-- 304 responses and every answer to HEAD then go out without a body.

local NS = "studysync.http_status" -- dynamic metadata namespace for this filter

local function has_body(headers)
  local length = headers:get("content-length")
  return (length ~= nil and length ~= "0") or headers:get("transfer-encoding") ~= nil
end

-- application/json, with parameters (charset=utf-8) or not, any letter case.
local function is_json(content_type)
  local media = string.lower(string.match(content_type, "^%s*([^;%s]*)") or "")
  return media == "application/json"
end

-- An empty query parameter means the field's default in proto3 (`?scope=`: no filter), but the
-- transcoder cannot read "" as an enum name. Drop an empty `scope` so it keeps meaning "any scope".
local function without_empty_scope(path)
  local base, query = string.match(path, "^([^?]*)%?(.*)$")
  if query == nil then
    return path
  end
  local kept, dropped = {}, false
  for pair in string.gmatch(query, "[^&]+") do
    if pair == "scope" or pair == "scope=" then
      dropped = true
    else
      table.insert(kept, pair)
    end
  end
  if not dropped then
    return path
  end
  if #kept == 0 then
    return base
  end
  return base .. "?" .. table.concat(kept, "&")
end

function envoy_on_request(request_handle)
  local headers = request_handle:headers()
  -- The transcoder rewrites the request into a gRPC POST, so remember the client's method.
  request_handle:streamInfo():dynamicMetadata():set(NS, "method", headers:get(":method"))
  local path = headers:get(":path") or ""
  if string.sub(path, 1, 22) == "/api/v1/tests/packages" and string.find(path, "scope", 1, true) then
    local rewritten = without_empty_scope(path)
    if rewritten ~= path then
      headers:replace(":path", rewritten)
      path = rewritten
    end
  end
  if string.sub(path, 1, 5) == "/api/" and has_body(headers) then
    local content_type = headers:get("content-type")
    if content_type == nil or not is_json(content_type) then
      -- local_reply_config gives this the JSON error shape (415 UNSUPPORTED_MEDIA_TYPE).
      request_handle:respond({[":status"] = "415"},
        "content-type: a request body must be application/json, got " .. (content_type or "none"))
    end
  end
end

-- The transcoder refuses a name an enum does not have (`"scope": "program"`) with the message
-- `scope: invalid value "program" for type type.googleapis.com/studysync.packages.v1.Scope`. Such a
-- value is out of a closed set, so it is answered as the services answer one: INVALID_FIELD,
-- "scope: must be one of PROGRAM, YEAR, BLOCK, THEME" (the names come from the route's metadata,
-- gateway/render.py enum_names). Anything else is left as it is.
local ENUM_ERROR = '"message":"([%w_%.%[%]]+): invalid value .- for type type%.googleapis%.com/([%w_%.]+)"'

local function closed_set_error(response_handle, text)
  local start, finish, field, enum = string.find(text, ENUM_ERROR)
  if start == nil then
    return text
  end
  local names = (response_handle:metadata():get("enum_names") or {})[enum]
  if names == nil then
    return text
  end
  local reason = string.find(text, '"reason":"INVALID_REQUEST"', 1, true)
  text = string.sub(text, 1, reason - 1) .. '"reason":"INVALID_FIELD"' .. string.sub(text, reason + 26)
  start, finish = string.find(text, ENUM_ERROR) -- the reason may sit before the message
  return string.sub(text, 1, start - 1) .. '"message":"' .. field .. ": must be one of " .. names .. '"'
    .. string.sub(text, finish + 1)
end

-- The gateway's own 400 (reason INVALID_REQUEST) whose message starts with a field path gets that
-- path as ErrorInfo metadata.field, like the services' errors. The body is our local_reply_config
-- JSON (keys sorted), so the path is known to be plain [A-Za-z0-9_.[]] text.
local function add_field(response_handle)
  local body = response_handle:body(true)
  local text = body:getBytes(0, body:length())
  if not string.find(text, '"reason":"INVALID_REQUEST"', 1, true) or string.find(text, '"field":', 1, true) then
    return
  end
  text = closed_set_error(response_handle, text)
  local field = string.match(text, '"message":"([%w_%.%[%]]+): ')
  if field == nil then
    return
  end
  local start, finish = string.find(text, '"metadata":{', 1, true)
  if start == nil then
    return
  end
  body:setBytes(string.sub(text, 1, finish) .. '"field":"' .. field .. '",' .. string.sub(text, finish + 1))
end

function envoy_on_response(response_handle)
  local headers = response_handle:headers()

  local wanted = headers:get("x-http-status")
  if wanted ~= nil then
    headers:remove("x-http-status")
    if string.match(wanted, "^[1-5]%d%d$") then
      headers:replace(":status", wanted)
    end
  end

  local status = headers:get(":status")
  if status == "400" then
    add_field(response_handle)
    return
  end
  local meta = response_handle:streamInfo():dynamicMetadata():get(NS)
  local is_head = meta ~= nil and meta["method"] == "HEAD"
  if status ~= "304" and not is_head then
    return
  end

  -- body(true) waits for the whole body (the transcoder has already buffered it). setBytes("")
  -- empties it and sets content-length to 0. Header objects taken before body() are stale after
  -- it ("object used outside of proper scope"), so fetch them again.
  local body = response_handle:body(true)
  local length = body:length()
  body:setBytes("")
  headers = response_handle:headers()
  if status == "304" then
    -- A 304 carries no content-length of its own (a cache would apply it to the stored body).
    headers:remove("content-length")
  else
    -- HEAD reports the length the GET body would have had.
    headers:replace("content-length", tostring(length))
  end
end
