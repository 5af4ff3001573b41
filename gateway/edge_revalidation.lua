-- Answers package revalidations at the edge: GET/HEAD /api/v1/tests/packages/{id} with an
-- If-None-Match that holds the package's ETag gets 304 from Envoy, without the gRPC round trip.
--
-- Why this is safe: a published package never changes (its ETag is its content hash), and this
-- filter only knows an ETag it has seen the packages service send with `immutable` in a 200 or 304
-- for that very path, which the service does for published packages only (services/packages/http.py;
-- drafts, unknown and malformed ids are errors without validators). Anything else, and any request
-- this filter is not sure the service would answer 304, passes through untouched.
--
-- It runs right after jwt_authn, so the token's signature, issuer and expiry are already checked;
-- before answering it also checks the claims the way the services' PyJWT does
-- (services/runtime/auth.py), so the edge never says 304 where a service would say 401.
--
-- Each Envoy worker keeps its own table (Lua state is per worker): a worker learns a package's ETag
-- from the first revalidation it passes on. Known limits (README "Gateway"): packages restored or
-- truncated under a running Envoy keep their old ETags here until Envoy restarts (the product never
-- deletes a published package), and so do tokens signed by a key removed from the JWKS (Envoy reads
-- the JWKS at start, as before).

local NS = "studysync.edge_revalidation" -- dynamic metadata: `learn` (path), `answered` ("304")
local JWT_NS = "envoy.filters.http.jwt_authn"
local ISSUER = '"studysync"' -- as raw JSON text: escaped spellings pass through to the service
local UUID = "%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x"
local PACKAGE_PATH = "^/api/v1/tests/packages/" .. UUID .. "$" -- no query string

local MAX_PACKAGES = 50000 -- per worker; the table starts over when full
local MAX_TOKENS = 4096 -- claim verdicts per worker, like the services' verified-token cache

local packages, package_count = {}, 0 -- path -> {etag, cache-control, content-type}
local verdicts, verdict_count = {}, 0 -- token -> {not_before, expires} or false

-- Base64url (RFC 7515 §2), no padding; nil for any other character.
local B64 = {}
do
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
  for i = 1, 64 do
    B64[string.byte(alphabet, i)] = i - 1
  end
end

local function base64url(text)
  local out, value, bits = {}, 0, 0
  for i = 1, #text do
    local digit = B64[string.byte(text, i)]
    if digit == nil then
      return nil
    end
    value, bits = value * 64 + digit, bits + 6
    if bits >= 8 then
      bits = bits - 8
      local byte = math.floor(value / 2 ^ bits)
      out[#out + 1] = string.char(byte)
      value = value - byte * 2 ^ bits
    end
  end
  return table.concat(out)
end

-- A JSON scanner just deep enough to tell what kind of value each top-level member of an object
-- holds: Envoy's metadata cannot (an empty list and an empty object are both an empty table, null
-- and missing are both nil), and PyJWT refuses `"roles": {}` or `"profiles": null`.
local function skip_space(text, at)
  return string.find(text, "[^ \t\r\n]", at) or #text + 1
end

local function string_end(text, at) -- at: the opening quote; returns the index after the closing one
  local i = at + 1
  while true do
    local found = string.find(text, '["\\]', i)
    if found == nil then
      return nil
    end
    if string.byte(text, found) == 92 then -- a backslash escapes the next character
      i = found + 2
    else
      return found + 1
    end
  end
end

local function value_end(text, at) -- returns the value's kind and the index after it
  local first = string.sub(text, at, at)
  if first == '"' then
    local finish = string_end(text, at)
    return finish and "string", finish
  end
  if first == "[" or first == "{" then
    local depth, i = 0, at
    while true do
      local found = string.find(text, '[%[%]{}"]', i)
      if found == nil then
        return nil
      end
      local char = string.sub(text, found, found)
      if char == '"' then
        i = string_end(text, found)
        if i == nil then
          return nil
        end
      else
        depth = depth + ((char == "[" or char == "{") and 1 or -1)
        i = found + 1
        if depth == 0 then
          return first == "[" and "array" or "object", i
        end
      end
    end
  end
  local word = string.match(text, "^[%w%.%+%-]+", at)
  if word == "true" or word == "false" then
    return "boolean", at + #word
  elseif word == "null" then
    return "null", at + #word
  elseif word ~= nil and string.match(word, "^%-?%d+%.?%d*[eE]?[%+%-]?%d*$") then
    -- Finite only: PyJWT's int() refuses 1e400, which Lua would read as infinity.
    local number = tonumber(word)
    if number ~= nil and number > -math.huge and number < math.huge then
      return "number", at + #word
    end
  end
  return nil
end

-- name -> {kind, raw text}; nil for text this scanner will not vouch for (not an object, a name
-- with an escape or given twice): the request then goes to the service, which decides.
local function members(text)
  local found, i = {}, skip_space(text, 1)
  if string.sub(text, i, i) ~= "{" then
    return nil
  end
  i = skip_space(text, i + 1)
  if string.sub(text, i, i) == "}" then
    return found
  end
  while true do
    if string.sub(text, i, i) ~= '"' then
      return nil
    end
    local name_end = string_end(text, i)
    if name_end == nil then
      return nil
    end
    local name = string.sub(text, i + 1, name_end - 2)
    if string.find(name, "\\", 1, true) or found[name] ~= nil then
      return nil
    end
    i = skip_space(text, name_end)
    if string.sub(text, i, i) ~= ":" then
      return nil
    end
    i = skip_space(text, i + 1)
    local kind, finish = value_end(text, i)
    if kind == nil then
      return nil
    end
    found[name] = {kind, string.sub(text, i, finish - 1)}
    i = skip_space(text, finish)
    local char = string.sub(text, i, i)
    if char == "}" then
      return found
    elseif char ~= "," then
      return nil
    end
    i = skip_space(text, i + 1)
  end
end

local function kind(claims, name)
  local member = claims[name]
  return member and member[1]
end

local function seconds(claims, name) -- a NumericDate as PyJWT reads it (int(), whole seconds)
  local member = claims[name]
  if member == nil then
    return nil
  end
  local value = tonumber(member[2])
  return value >= 0 and math.floor(value) or math.ceil(value)
end

-- Would services/runtime/auth.py TokenVerifier accept this (signature-checked) token's claims?
-- {not_before, expires} in whole seconds if so, false if not (or not sure).
local function judge(token)
  local header_b64, payload_b64 = string.match(token, "^([^.]+)%.([^.]+)%.")
  local header = members(base64url(header_b64) or "")
  local claims = members(base64url(payload_b64) or "")
  if header == nil or claims == nil then
    return false
  end
  -- Only the header our tokens have: alg ES256 (the one PyJWT takes), kid and typ, all strings;
  -- anything more (crit, b64, ...) is left to PyJWT's reading. A kid is required: without one the
  -- services try their first key only, Envoy every key (the same only while the JWKS holds one).
  for name, member in pairs(header) do
    if (name ~= "alg" and name ~= "kid" and name ~= "typ") or member[1] ~= "string" then
      return false
    end
  end
  if header.kid == nil or header.alg == nil or header.alg[2] ~= '"ES256"' then
    return false
  end
  local ok = kind(claims, "sub") == "string"
    and claims.iss ~= nil and claims.iss[2] == ISSUER
    and kind(claims, "exp") == "number"
    and (claims.iat == nil or kind(claims, "iat") == "number")
    and (claims.nbf == nil or kind(claims, "nbf") == "number")
    and claims.aud == nil -- PyJWT refuses any audience when it is given none to expect
    and (claims.jti == nil or kind(claims, "jti") == "string")
    and (claims.profiles == nil or kind(claims, "profiles") == "array")
    and (claims.roles == nil or kind(claims, "roles") == "array")
  if not ok then
    return false
  end
  return {math.max(seconds(claims, "iat") or -math.huge, seconds(claims, "nbf") or -math.huge),
    seconds(claims, "exp")}
end

local function service_accepts(request_handle, headers)
  if headers:getNumValues("authorization") ~= 1 then
    return false
  end
  local token = string.match(headers:get("authorization"), "^Bearer ([%w_%-]+%.[%w_%-]+%.[%w_%-]+)$")
  if token == nil then
    return false
  end
  local verdict = verdicts[token]
  if verdict == nil then
    -- jwt_authn puts the payload here only once it has verified this request's token.
    local verified = request_handle:streamInfo():dynamicMetadata():get(JWT_NS)
    if verified == nil or verified["jwt_payload"] == nil then
      return false
    end
    verdict = judge(token)
    if verdict_count >= MAX_TOKENS then
      verdicts, verdict_count = {}, 0
    end
    verdicts[token], verdict_count = verdict, verdict_count + 1
  end
  if verdict == false then
    return false
  end
  -- PyJWT refuses once int(exp) <= now and while int(iat or nbf) > now, `now` with fractions:
  -- comparing with os.time() (now rounded down, or a tick behind as a second turns) keeps the
  -- edge on the refusing side: a token issued this very second may go to the service.
  local now = os.time()
  return verdict[1] <= now and verdict[2] > now
end

-- RFC 9110 §13.1.2 as services/packages/http.py reads it: `*`, or any (W/)"tag" followed by a
-- comma or the end; several header lines are one list, joined with ", " as the servicer joins them.
local function holds(headers, etag)
  local lines = headers:getNumValues("if-none-match")
  if lines == 0 then
    return false
  end
  local values = {}
  for i = 0, lines - 1 do
    values[#values + 1] = headers:getAtIndex("if-none-match", i)
  end
  local value = table.concat(values, ", ")
  if string.match(value, "^%s*%*%s*$") then
    return true
  end
  local want = string.sub(etag, 2, -2)
  local at = 1
  while true do
    local open = string.find(value, '"', at, true)
    if open == nil then
      return false
    end
    local tag, rest = string.match(value, '^"([^"]*)"%s*(.?)', open)
    if tag == want and (rest == "," or rest == "") then
      return true
    end
    at = open + 1
  end
end

function envoy_on_request(request_handle)
  local headers = request_handle:headers()
  local method = headers:get(":method")
  if method ~= "GET" and method ~= "HEAD" then
    return
  end
  local path = headers:get(":path")
  if not string.match(path, PACKAGE_PATH) then
    return
  end
  local known = packages[path]
  local meta = request_handle:streamInfo():dynamicMetadata()
  if known == nil then
    meta:set(NS, "learn", path)
    return
  end
  if not holds(headers, known[1]) or not service_accepts(request_handle, headers) then
    return
  end
  -- Operators count these from the access log (its `edge` field): a response header would be
  -- stored by caches with the 304 (RFC 9111 §4.3.4), and Lua cannot add to Envoy's stats.
  meta:set(NS, "answered", "304")
  request_handle:respond(
    {[":status"] = "304", ["etag"] = known[1], ["cache-control"] = known[2], ["content-type"] = known[3]},
    "")
end

function envoy_on_response(response_handle)
  local meta = response_handle:streamInfo():dynamicMetadata():get(NS)
  local path = meta and meta["learn"]
  if path == nil then
    return
  end
  local headers = response_handle:headers()
  local status = headers:get(":status")
  if status ~= "200" and status ~= "304" then
    return
  end
  local etag, cache_control = headers:get("etag"), headers:get("cache-control")
  if etag == nil or not string.match(etag, '^"%x+"$') or cache_control == nil
    or not string.find(cache_control, "immutable", 1, true) then
    return
  end
  if package_count >= MAX_PACKAGES then
    packages, package_count = {}, 0
  end
  if packages[path] == nil then
    package_count = package_count + 1
  end
  packages[path] = {etag, cache_control, headers:get("content-type") or "application/json"}
end
