-- Lets a service choose the HTTP status of a transcoded response, and keeps bodies off the
-- responses that must not have one.
--
-- A gRPC service cannot set an HTTP status, so it sends the wanted one (e.g. "304") as the
-- initial-metadata header `x-http-status`; the transcoder turns that into a response header,
-- and this filter (which sees the response after the transcoder) moves it into `:status`.
-- 304 responses and every answer to HEAD then go out without a body.

local NS = "studysync.http_status" -- dynamic metadata namespace for this filter

function envoy_on_request(request_handle)
  -- The transcoder rewrites the request into a gRPC POST, so remember the client's method.
  request_handle:streamInfo():dynamicMetadata():set(NS, "method", request_handle:headers():get(":method"))
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
