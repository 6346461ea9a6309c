-- ---------------------------------------------------------------------------------------------------
-- The fixed runtime (conformance/dissector/runtime.lua): everything above comes from the declarations.
-- Lua 5.2 to 5.4 (Wireshark's): no integer division, no bit operators, no string.unpack.

local G = GENERATED
local SHAPES = G.shapes
local HEADER = G.header_size
local VERSION_BIT = G.n2c_version_bit
local MAX_PENDING = 16 * 1024 * 1024 -- bytes buffered per (protocol, direction) before giving up
local MAX_DEPTH = 128 -- CBOR nesting the reader follows
local MAX_SHOWN = 300 -- elements decoded and shown per array or map (the rest are skipped, counted)
local MAX_ITEMS = 20000 -- items decoded per message (the rest are skipped, counted)
local MAX_HEX = 32 -- bytes of a byte string shown in a label

local proto = Proto("ouroboros", "Ouroboros network mux")

local F = {
  timestamp = ProtoField.uint32("ouroboros.timestamp", "Transmission time", base.DEC, nil, nil,
    "lower 32 bits of the sender's monotonic clock in microseconds"),
  mode = ProtoField.uint16("ouroboros.mode", "Mode", base.DEC,
    { [0] = "initiator", [1] = "responder" }, 0x8000, "which side of the mini-protocol sent the SDU"),
  number = ProtoField.uint16("ouroboros.protocol", "Mini-protocol", base.DEC, G.number_names, 0x7fff),
  name = ProtoField.string("ouroboros.protocol_name", "Mini-protocol name"),
  length = ProtoField.uint16("ouroboros.length", "Payload length", base.DEC),
  message = ProtoField.string("ouroboros.message", "Message"),
  tag = ProtoField.uint32("ouroboros.tag", "Message tag", base.DEC),
  value = ProtoField.string("ouroboros.value", "Value"),
  part = ProtoField.string("ouroboros.part", "Part of a message"),
}

local E = {
  malformed = ProtoExpert.new("ouroboros.malformed", "Malformed CBOR", expert.group.MALFORMED, expert.severity.ERROR),
  unknown = ProtoExpert.new("ouroboros.unknown", "No such message", expert.group.PROTOCOL, expert.severity.WARN),
  shape = ProtoExpert.new("ouroboros.shape", "Not the declared shape", expert.group.PROTOCOL, expert.severity.WARN),
  part = ProtoExpert.new("ouroboros.continued", "Message continues in another SDU", expert.group.REASSEMBLE,
    expert.severity.CHAT),
}
proto.experts = { E.malformed, E.unknown, E.shape, E.part }

-- One field per (mini-protocol, message field name): `ouroboros.chain-sync.tip`, filterable.
local FIELDS = {}
do
  local list = {}
  for _, key in ipairs({ "timestamp", "mode", "number", "name", "length", "message", "tag", "value", "part" }) do
    list[#list + 1] = F[key]
  end
  local seen = {}
  for _, family in pairs(G.families) do
    for _, p in pairs(family) do
      FIELDS[p.name] = FIELDS[p.name] or {}
      for _, m in ipairs(p.messages) do
        for _, f in ipairs(m.fields) do
          local abbrev = "ouroboros." .. p.name .. "." .. f[1]
          if not seen[abbrev] then
            seen[abbrev] = ProtoField.string(abbrev, f[1])
            list[#list + 1] = seen[abbrev]
          end
          FIELDS[p.name][f[1]] = seen[abbrev]
        end
      end
    end
  end
  proto.fields = list
end

-- Messages by tag, per family and number.
local BY_TAG = {}
for family, protocols in pairs(G.families) do
  BY_TAG[family] = {}
  for number, p in pairs(protocols) do
    local tags = {}
    for _, m in ipairs(p.messages) do
      tags[m.tag] = tags[m.tag] or {}
      table.insert(tags[m.tag], m)
    end
    BY_TAG[family][number] = tags
  end
end

-- Which families use a mux number (handshake: both).
local FAMILIES_OF = {}
for family, protocols in pairs(G.families) do
  for number, _ in pairs(protocols) do
    FAMILIES_OF[number] = FAMILIES_OF[number] or {}
    table.insert(FAMILIES_OF[number], family)
  end
end

-- Transitions by family and number: NEXT[state][message] = next state (false: depends on more than the
-- message); AFTER[message] = the state after it whatever the state before (false: depends on it).
local NEXT, AFTER = {}, {}
for family, protocols in pairs(G.families) do
  NEXT[family], AFTER[family] = {}, {}
  for number, p in pairs(protocols) do
    local next_state, after = {}, {}
    for _, move in ipairs(p.moves or {}) do
      local source, message, target = move[1], move[2], move[3]
      next_state[source] = next_state[source] or {}
      local known = next_state[source][message]
      next_state[source][message] = (known == nil or known == target) and target or false
      if after[message] == nil then
        after[message] = target
      elseif after[message] ~= target then
        after[message] = false
      end
    end
    NEXT[family][number], AFTER[family][number] = next_state, after
  end
end

-- ---------------------------------------------------------------------------------------------------
-- CBOR reader over a Lua string: items {m = major type, s = first position, e = position after, v = value,
-- items = {...} (arrays, tags), pairs = {{k, v}...} (maps), ind = indefinite}. Errors: INCOMPLETE (more
-- bytes may complete the item) or {msg = ...}.

local INCOMPLETE = setmetatable({}, { __tostring = function() return "incomplete" end })

local function malformed(text) error({ msg = text }, 0) end

local function big_endian(s, pos, n)
  if pos + n - 1 > #s then error(INCOMPLETE, 0) end
  local v = 0
  for i = pos, pos + n - 1 do v = v * 256 + s:byte(i) end
  return v
end

local function argument(s, pos, info)
  if info < 24 then return info, pos end
  if info == 24 then return big_endian(s, pos, 1), pos + 1 end
  if info == 25 then return big_endian(s, pos, 2), pos + 2 end
  if info == 26 then return big_endian(s, pos, 4), pos + 4 end
  if info == 27 then
    local hi, lo = big_endian(s, pos, 4), big_endian(s, pos + 4, 4)
    if hi < 2097152 then return hi * 4294967296 + lo, pos + 8 end
    return { hi = hi, lo = lo }, pos + 8 -- beyond 2^53: kept as two words
  end
  malformed("reserved additional information " .. info)
end

local function ieee(sign, exponent, mantissa, max_exponent, mantissa_bits, bias)
  local value
  if exponent == 0 then
    value = mantissa * 2 ^ (1 - bias - mantissa_bits)
  elseif exponent == max_exponent then
    value = (mantissa == 0) and math.huge or (0 / 0)
  else
    value = (1 + mantissa / 2 ^ mantissa_bits) * 2 ^ (exponent - bias)
  end
  return sign and -value or value
end

local function float(s, pos, info)
  if info == 25 then
    local h = big_endian(s, pos, 2)
    return ieee(h >= 32768, math.floor(h / 1024) % 32, h % 1024, 31, 10, 15), pos + 2
  elseif info == 26 then
    local w = big_endian(s, pos, 4)
    return ieee(w >= 2147483648, math.floor(w / 8388608) % 256, w % 8388608, 255, 23, 127), pos + 4
  end
  local hi, lo = big_endian(s, pos, 4), big_endian(s, pos + 4, 4)
  return ieee(hi >= 2147483648, math.floor(hi / 1048576) % 2048, (hi % 1048576) * 4294967296 + lo, 2047, 52, 1023),
      pos + 8
end

-- The scanner: finds where an item ends without building it, and resumes where the bytes ran out, so
-- cutting a long message out of many SDUs costs time linear in its size. `state` is what a scan stopped
-- by the end of `s` leaves: the position of the next head and the items still open (counts of what each
-- container still holds; -1 for indefinite ones). Returns the position after the item, or nil and state.
local ARGUMENT_BYTES = { [24] = 1, [25] = 2, [26] = 4, [27] = 8 }

local function scan(s, pos, state)
  state = state or { pos = pos, stack = {} }
  local stack = state.stack
  pos = state.pos
  while true do
    local ib = s:byte(pos)
    if ib == nil then
      state.pos = pos
      return nil, state
    end
    local major, info = math.floor(ib / 32), ib % 32
    local complete = false
    if ib == 0xff then
      if stack[#stack] ~= -1 then malformed("a break outside an indefinite-length item") end
      stack[#stack] = nil
      pos = pos + 1
      complete = true
    elseif info == 31 then
      if major < 2 or major > 5 then malformed("indefinite length on major type " .. major) end
      stack[#stack + 1] = -1
      pos = pos + 1
    elseif info > 27 then
      malformed("reserved additional information " .. info)
    else
      local width = ARGUMENT_BYTES[info] or 0
      if pos + width > #s then
        state.pos = pos
        return nil, state
      end
      local n, after = argument(s, pos + 1, info)
      if type(n) == "table" and major ~= 0 and major ~= 1 and major ~= 6 and major ~= 7 then
        malformed("a length beyond 2^53")
      end
      if major == 2 or major == 3 then
        if after + n - 1 > #s then
          state.pos = pos
          return nil, state
        end
        pos, complete = after + n, true
      elseif (major == 4 or major == 5) and n > 0 then
        stack[#stack + 1] = (major == 5) and 2 * n or n
        pos = after
      elseif major == 6 then
        stack[#stack + 1] = 1
        pos = after
      else
        pos, complete = after, true
      end
    end
    if #stack > MAX_DEPTH then malformed("nesting deeper than " .. MAX_DEPTH) end
    while complete do
      local top = stack[#stack]
      if top == nil then return pos end
      if top == -1 then
        complete = false
      elseif top > 1 then
        stack[#stack] = top - 1
        complete = false
      else
        stack[#stack] = nil
      end
    end
  end
end

-- Skips one whole item of `s` from `pos` (INCOMPLETE when `s` ends first); scalars and strings without
-- building a scan state, as most skipped items are.
local function skip(s, pos)
  local ib = s:byte(pos)
  if ib == nil then error(INCOMPLETE, 0) end
  local major, info = math.floor(ib / 32), ib % 32
  local after
  if info < 28 and (major <= 1 or major == 7) and ib ~= 0xff then
    after = pos + 1 + (ARGUMENT_BYTES[info] or 0)
  elseif info < 28 and (major == 2 or major == 3) then
    local n, at = argument(s, pos + 1, info)
    if type(n) == "table" then malformed("a length beyond 2^53") end
    after = at + n
  else
    after = scan(s, pos)
    if after == nil then error(INCOMPLETE, 0) end
    return after
  end
  if after > #s + 1 then error(INCOMPLETE, 0) end
  return after
end

local decode
local budget = MAX_ITEMS

local function is_break(s, pos)
  local b = s:byte(pos)
  if b == nil then error(INCOMPLETE, 0) end
  return b == 0xff
end

local function string_item(s, start, pos, major, info)
  if info == 31 then
    local chunks = {}
    while not is_break(s, pos) do
      local chunk = decode(s, pos, MAX_DEPTH - 1)
      pos = chunk.e
      if chunk.m ~= major or chunk.ind then malformed("a definite chunk of the same type in an indefinite string") end
      chunks[#chunks + 1] = chunk.v
    end
    return { m = major, s = start, e = pos + 1, v = table.concat(chunks), ind = true }
  end
  local n
  n, pos = argument(s, pos, info)
  if type(n) == "table" then malformed("a string longer than 2^53 bytes") end
  if pos + n - 1 > #s then error(INCOMPLETE, 0) end
  return { m = major, s = start, e = pos + n, v = s:sub(pos, pos + n - 1), at = pos }
end

decode = function(s, pos, depth)
  if depth > MAX_DEPTH then malformed("nesting deeper than " .. MAX_DEPTH) end
  local start = pos
  local ib = s:byte(pos)
  if ib == nil then error(INCOMPLETE, 0) end
  local major, info = math.floor(ib / 32), ib % 32
  pos = pos + 1
  if major == 2 or major == 3 then return string_item(s, start, pos, major, info) end
  if major == 7 then
    if info == 20 then return { m = 7, s = start, e = pos, v = false } end
    if info == 21 then return { m = 7, s = start, e = pos, v = true } end
    if info == 22 then return { m = 7, s = start, e = pos, v = "null" } end
    if info == 23 then return { m = 7, s = start, e = pos, v = "undefined" } end
    if info == 24 then
      local n = big_endian(s, pos, 1)
      return { m = 7, s = start, e = pos + 1, v = "simple(" .. n .. ")" }
    end
    if info >= 25 and info <= 27 then
      local f, after = float(s, pos, info)
      return { m = 7, s = start, e = after, v = f, float = true }
    end
    if info == 31 then malformed("a break outside an indefinite-length item") end
    if info < 20 then return { m = 7, s = start, e = pos, v = "simple(" .. info .. ")" } end
    malformed("reserved simple value " .. info)
  end
  budget = budget - 1
  if info == 31 then
    if major == 4 then
      local items, count = {}, 0
      while not is_break(s, pos) do
        count = count + 1
        if count > MAX_SHOWN or budget <= 0 then
          pos = skip(s, pos)
        else
          local child = decode(s, pos, depth + 1)
          items[count] = child
          pos = child.e
        end
      end
      return { m = 4, s = start, e = pos + 1, items = items, count = count, ind = true }
    elseif major == 5 then
      local pairs_, count = {}, 0
      while not is_break(s, pos) do
        count = count + 1
        if count > MAX_SHOWN or budget <= 0 then
          pos = skip(s, skip(s, pos))
        else
          local k = decode(s, pos, depth + 1)
          local v = decode(s, k.e, depth + 1)
          pairs_[count] = { k = k, v = v }
          pos = v.e
        end
      end
      return { m = 5, s = start, e = pos + 1, pairs = pairs_, count = count, ind = true }
    end
    malformed("indefinite length on major type " .. major)
  end
  local n
  n, pos = argument(s, pos, info)
  if major == 0 then return { m = 0, s = start, e = pos, v = n } end
  if major == 1 then return { m = 1, s = start, e = pos, v = n } end
  if major == 6 then
    local inner = decode(s, pos, depth + 1)
    return { m = 6, s = start, e = inner.e, v = n, items = { inner } }
  end
  if type(n) == "table" then malformed("more than 2^53 elements") end
  if major == 4 then
    local items = {}
    for i = 1, n do
      if i > MAX_SHOWN or budget <= 0 then
        pos = skip(s, pos)
      else
        items[i] = decode(s, pos, depth + 1)
        pos = items[i].e
      end
    end
    return { m = 4, s = start, e = pos, items = items, count = n }
  end
  local pairs_ = {}
  for i = 1, n do
    if i > MAX_SHOWN or budget <= 0 then
      pos = skip(s, skip(s, pos))
    else
      local k = decode(s, pos, depth + 1)
      local v = decode(s, k.e, depth + 1)
      pairs_[i] = { k = k, v = v }
      pos = v.e
    end
  end
  return { m = 5, s = start, e = pos, pairs = pairs_, count = n }
end

-- One message (or embedded item): at most MAX_ITEMS items are built, the rest only counted.
local function decode_item(s, pos)
  budget = MAX_ITEMS
  return decode(s, pos, 0)
end

-- ---------------------------------------------------------------------------------------------------
-- Values as text.

local function uint_text(v)
  if type(v) == "table" then
    if UInt64 then return tostring(UInt64.new(v.lo, v.hi)) end
    return string.format("0x%08x%08x", v.hi, v.lo)
  end
  return string.format("%d", v)
end

local function hex(s, max)
  local shown = s:sub(1, max or MAX_HEX):gsub(".", function(c) return string.format("%02x", c:byte()) end)
  if #s > (max or MAX_HEX) then shown = shown .. "..." end
  return shown
end

local function version_text(v)
  if type(v) ~= "number" then return uint_text(v) end
  if v >= VERSION_BIT and v < 2 * VERSION_BIT then
    return string.format("%d (node-to-client v%d)", v, v - VERSION_BIT)
  end
  return string.format("%d", v)
end

local function brief(item, depth)
  depth = depth or 0
  local m = item.m
  if m == 0 then return uint_text(item.v) end
  if m == 1 then return "-1-" .. uint_text(item.v) end
  if m == 2 then return "h'" .. hex(item.v, 16) .. "' (" .. #item.v .. " bytes)" end
  if m == 3 then return string.format("%q", item.v:sub(1, 64)) end
  if m == 4 then
    if depth >= 2 or item.count > 6 then return "[" .. item.count .. " items]" end
    local parts = {}
    for i, child in ipairs(item.items) do parts[i] = brief(child, depth + 1) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  if m == 5 then return "{" .. item.count .. " entries}" end
  if m == 6 then return "tag " .. uint_text(item.v) .. "(" .. brief(item.items[1], depth + 1) .. ")" end
  return tostring(item.v)
end

-- ---------------------------------------------------------------------------------------------------
-- Shapes: does an item have the declared shape, and how to show it.

local function matches(index, item)
  local s = SHAPES[index]
  local k = s.k
  if k == "uint" or k == "version" then return item.m == 0 end
  if k == "int" then return item.m == 0 or item.m == 1 end
  if k == "const" then return item.m == 0 and item.v == s.v end
  if k == "bool" then return item.m == 7 and (item.v == true or item.v == false) end
  if k == "bytes" then return item.m == 2 end
  if k == "text" then return item.m == 3 end
  if k == "nothing" then return item.m == 4 and item.count == 0 end
  if k == "cbor24" then return item.m == 6 and item.v == 24 and item.items[1].m == 2 end
  if k == "list" then return item.m == 4 end
  if k == "map" or k == "vtable" then return item.m == 5 end
  if k == "choice" then
    for _, a in ipairs(s.a) do
      if matches(a, item) then return true end
    end
    return false
  end
  if k == "rec" then
    if item.m ~= 4 or item.count < s.min or item.count > #s.f or #item.items < item.count then return false end
    for i, child in ipairs(item.items) do
      if not matches(s.f[i][2], child) then return false end
    end
    return true
  end
  return true -- any, vdata
end

-- A view says where a decoded string's positions lie in a tvb: position p is at offset base + p - 1.
local function range(view, item)
  return view.tvb(view.base + item.s - 1, item.e - item.s)
end

local function add(tree, field, r, label, text)
  local node = tree:add(field or F.value, r, text)
  node:set_text(label .. ": " .. text)
  return node
end

local generic

local function generic_children(node, view, item, depth)
  if item.m == 4 then
    for i, child in ipairs(item.items) do
      generic(node, view, child, "[" .. (i - 1) .. "]", nil, depth + 1)
    end
  elseif item.m == 5 then
    for _, pair in ipairs(item.pairs) do
      generic(node, view, pair.v, "[" .. brief(pair.k, 1) .. "]", nil, depth + 1)
    end
  elseif item.m == 6 then
    generic(node, view, item.items[1], "value", nil, depth + 1)
  end
end

local function more(node, view, item)
  if item.m ~= 4 and item.m ~= 5 then return end
  local shown = (item.m == 4) and #item.items or #item.pairs
  if item.count and item.count > shown then
    node:add(F.value, range(view, item), "..."):set_text("... " .. (item.count - shown) .. " more not decoded")
  end
end

generic = function(tree, view, item, label, field, depth)
  depth = depth or 0
  local node = add(tree, field, range(view, item), label, brief(item))
  if item.ind then node:append_text(" (indefinite length)") end
  if depth < 12 then
    generic_children(node, view, item, depth)
    more(node, view, item)
  end
  return node
end

local render

-- Tag 24: the embedded item is shown decoded, in place (its bytes are the byte string's content).
local function embedded(node, view, item, what)
  local content = item.items[1]
  if content.at == nil then return end -- an indefinite (chunked) string: shown as it is
  local ok, inner = pcall(decode_item, content.v, 1)
  if not ok or inner.e ~= #content.v + 1 then
    node:add_proto_expert_info(E.malformed, "tag 24 holds no single well-formed CBOR item")
    return
  end
  local inner_view = { tvb = view.tvb, base = view.base + content.at - 1 }
  generic(node, inner_view, inner, what or "embedded", nil, 1)
end

local function shown_version(state, v)
  state.version = v
  return version_text(v)
end

render = function(tree, view, item, index, label, field, state)
  local s = SHAPES[index]
  local k = s.k
  if k == "choice" then
    for _, a in ipairs(s.a) do
      if matches(a, item) then return render(tree, view, item, a, label, field, state) end
    end
    local node = generic(tree, view, item, label, field, 0)
    node:add_proto_expert_info(E.shape, label .. " has none of its declared forms")
    return node
  end
  if k ~= "any" and k ~= "vdata" and not matches(index, item) then
    local node = generic(tree, view, item, label, field, 0)
    node:add_proto_expert_info(E.shape, label .. ": expected " .. k .. ", got " .. brief(item))
    return node
  end
  local r = range(view, item)
  if k == "version" then return add(tree, field, r, label, shown_version(state, item.v)) end
  if k == "bool" then return add(tree, field, r, label, tostring(item.v)) end
  if k == "uint" or k == "int" or k == "const" or k == "bytes" or k == "text" then
    return add(tree, field, r, label, brief(item))
  end
  if k == "nothing" then return add(tree, field, r, label, "[] (none: origin / genesis)") end
  if k == "cbor24" then
    local node = add(tree, field, r, label, "#6.24(" .. s.what .. ", " .. #item.items[1].v .. " bytes)")
    embedded(node, view, item, s.what)
    return node
  end
  if k == "rec" then
    local node = add(tree, field, r, label, brief(item))
    if s.kind then node:append_text(" (" .. s.kind .. ")") end
    for i, child in ipairs(item.items) do
      render(node, view, child, s.f[i][2], s.f[i][1], nil, state)
    end
    return node
  end
  if k == "list" then
    local node = add(tree, field, r, label, item.count .. " items" .. (item.ind and " (indefinite length)" or ""))
    for i, child in ipairs(item.items) do
      render(node, view, child, s.e, "[" .. (i - 1) .. "]", nil, state)
    end
    more(node, view, item)
    return node
  end
  if k == "map" then
    local node = add(tree, field, r, label, item.count .. " entries")
    for _, pair in ipairs(item.pairs) do
      render(node, view, pair.v, s.val, "[" .. brief(pair.k, 1) .. "]", nil, state)
    end
    more(node, view, item)
    return node
  end
  if k == "vtable" then
    local versions = {}
    for i, pair in ipairs(item.pairs) do versions[i] = version_text(pair.k.v) end
    local node = add(tree, field, r, label, table.concat(versions, ", "))
    for _, pair in ipairs(item.pairs) do
      local data
      for _, row in ipairs(s.data) do
        if row[1] == pair.k.v then data = row[2] end
      end
      local entry = "version " .. version_text(pair.k.v)
      if data then render(node, view, pair.v, data, entry, nil, state) else generic(node, view, pair.v, entry, nil, 0) end
    end
    return node
  end
  if k == "vdata" then
    for _, row in ipairs(s.data) do
      if row[1] == state.version then return render(tree, view, item, row[2], label, field, state) end
    end
  end
  return generic(tree, view, item, label, field, 0)
end

-- ---------------------------------------------------------------------------------------------------
-- Messages: which one an item is, and a one-line summary for the Info column.

local function n2c_version(item, depth)
  if item.m == 0 then return type(item.v) == "number" and item.v >= VERSION_BIT end
  if item.m == 5 then
    for _, pair in ipairs(item.pairs) do
      if pair.k.m == 0 and type(pair.k.v) == "number" and pair.k.v >= VERSION_BIT then return true end
    end
  elseif item.m == 4 and depth < 2 then
    for _, child in ipairs(item.items) do
      if n2c_version(child, depth + 1) then return true end
    end
  end
  return false
end

-- The family a handshake message belongs to, from its version numbers (node-to-client: bit 15 set).
local function handshake_family(item)
  if item.m == 4 and item.items[2] ~= nil and n2c_version(item.items[2], 0) then return "node-to-client" end
  if item.m == 4 and item.items[2] ~= nil and item.items[2].m == 5 then return "node-to-node" end
  return nil
end

-- The declared messages `item` may be: those with its tag that the sender's side sends and whose fields
-- have the declared shapes (more than one only when the declarations cannot tell them apart), else a
-- problem and the first message with that tag (if any) to show the fields with.
local function identify(family, number, mode, item)
  local tags = BY_TAG[family] and BY_TAG[family][number]
  if tags == nil then return {}, nil, nil end
  if item.m ~= 4 or item.ind or item.count == 0 or item.items[1] == nil or item.items[1].m ~= 0 then
    return {}, "a message is a definite array [tag, field...]", nil
  end
  local tag = item.items[1].v
  local sender = (mode == 0) and "initiator" or "responder"
  local found = {}
  for _, m in ipairs(tags[tag] or {}) do
    local sent_by = #m.from == 0
    for _, side in ipairs(m.from) do
      if side == sender then sent_by = true end
    end
    local n = item.count - 1
    local fits = sent_by and n >= m.min and n <= #m.fields
    for i = 1, n do
      if fits and not matches(m.fields[i][2], item.items[i + 1]) then fits = false end
    end
    if fits then found[#found + 1] = m end
  end
  if #found > 0 then return found, nil, found[1] end
  local candidates = tags[tag] or {}
  if #candidates == 0 then return {}, "no message has tag " .. uint_text(tag), nil end
  local names = {}
  for i, m in ipairs(candidates) do names[i] = m.name end
  return {}, "tag " .. uint_text(tag) .. " (" .. table.concat(names, "/") .. ") does not fit what the " .. sender ..
      " sent: not the declared sender or fields", candidates[1]
end

local function summary(m, item)
  local parts = {}
  for i, f in ipairs(m.fields) do
    local child = item.items[i + 1]
    local k = SHAPES[f[2]].k
    if child == nil then break end
    if k == "vtable" and child.m == 5 then
      local versions, n2c = {}, true
      for j, pair in ipairs(child.pairs) do
        local v = pair.k.v
        n2c = n2c and type(v) == "number" and v >= VERSION_BIT and v < 2 * VERSION_BIT
        versions[j] = uint_text(v)
      end
      if n2c and #versions > 0 then
        for j, pair in ipairs(child.pairs) do versions[j] = string.format("%d", pair.k.v - VERSION_BIT) end
      end
      parts[#parts + 1] = f[1] .. "=" .. table.concat(versions, ",") .. ((n2c and #versions > 0) and " (node-to-client)" or "")
    elseif k == "version" and child.m == 0 then
      local v = child.v
      if type(v) == "number" and v >= VERSION_BIT and v < 2 * VERSION_BIT then
        parts[#parts + 1] = string.format("%s=%d (node-to-client)", f[1], v - VERSION_BIT)
      else
        parts[#parts + 1] = f[1] .. "=" .. uint_text(v)
      end
    elseif (k == "uint" or k == "int" or k == "bool") and child.m ~= 4 then
      parts[#parts + 1] = f[1] .. "=" .. brief(child)
    elseif (k == "list") and child.m == 4 then
      parts[#parts + 1] = f[1] .. "=" .. child.count
    end
  end
  return table.concat(parts, " ")
end

-- ---------------------------------------------------------------------------------------------------
-- Connection state, filled on the first pass in frame order and read on every later dissection.

local streams = {} -- per TCP stream: family learnt from the handshake, bytes pending per (protocol, mode)
local records = {} -- per SDU (frame and offset): what the first pass found
local info = {} -- per frame: {order = {key...}, text = {key -> text}}
local tcp_stream = Field.new("tcp.stream")

function proto.init()
  streams, records, info = {}, {}, {}
end

local function stream_of(pinfo)
  local fi = tcp_stream()
  local id = fi and tostring(fi.value) or (tostring(pinfo.src) .. ":" .. pinfo.src_port .. "-" ..
    tostring(pinfo.dst) .. ":" .. pinfo.dst_port)
  streams[id] = streams[id] or { family = nil, pending = {}, scans = {}, states = {}, seen = {}, started = false }
  return streams[id]
end

local function family_for(stream, number, item)
  local families = FAMILIES_OF[number]
  if families == nil then return stream.family or "node-to-node" end
  if #families == 1 then return families[1] end
  if item ~= nil then
    local guessed = handshake_family(item)
    if guessed then
      stream.family = guessed
      return guessed
    end
  end
  return stream.family or "node-to-node"
end

-- First pass, in frame order: follow the state of each mini-protocol instance (protocol number and the
-- end that initiated it) to tell apart messages that share a tag and a sender. Unknown state (a capture
-- started mid-connection, or pipelined requests) filters nothing; a message whose next state does not
-- depend on the state before it brings the state back.
local function choose(stream, family, number, mode, item, instance)
  local found = identify(family, number, mode, item)
  local moves = NEXT[family] and NEXT[family][number]
  local p = G.families[family] and G.families[family][number]
  if moves == nil or p == nil or #found == 0 then return nil end
  if not stream.seen[instance] then -- its first message: from the initial state if the capture saw it start
    stream.seen[instance] = true
    if number == 0 or stream.started then stream.states[instance] = p.initial end
  end
  local state = stream.states[instance]
  local chosen = found
  if state and #found > 1 then
    local fitting = {}
    for _, m in ipairs(found) do
      if moves[state] and moves[state][m.name] ~= nil then fitting[#fitting + 1] = m end
    end
    if #fitting > 0 then chosen = fitting end
  end
  local target = false
  if #chosen == 1 then
    local name = chosen[1].name
    if state and moves[state] and moves[state][name] ~= nil then
      target = moves[state][name]
    else
      target = AFTER[family][number][name]
    end
  end
  stream.states[instance] = target or nil
  if number == 0 then stream.started = true end
  local names = {}
  for i, m in ipairs(chosen) do names[i] = m.name end
  return names
end

-- First pass: append the payload to what this (protocol, mode) left pending and cut whole CBOR items.
local function cut(stream, number, mode, payload, instance)
  local key = number * 2 + mode
  local carry = stream.pending[key] or ""
  local data = carry .. payload
  local record = { carry = carry, messages = {}, families = {} }
  local pos = 1
  local scanning = stream.scans[key] -- where the scan of the pending bytes stopped (none: start again)
  while pos <= #data do
    local ok, after, state = pcall(scan, data, pos, scanning)
    scanning = nil
    local item
    if ok and after ~= nil then
      ok, item = pcall(decode_item, data, pos)
      after = ok and item.e or item
    end
    if not ok then
      record.error = (type(after) == "table" and after.msg) or tostring(after)
      record.error_at = pos
      pos = #data + 1
    elseif after == nil then
      scanning = state
      break
    else
      local family = family_for(stream, number, item)
      local names = choose(stream, family, number, mode, item, instance)
      record.messages[#record.messages + 1] = { s = pos, e = item.e, names = names }
      record.families[#record.messages] = family
      pos = item.e
    end
  end
  local rest = data:sub(pos)
  if #rest > MAX_PENDING then
    record.error = "more than " .. MAX_PENDING .. " bytes without a whole message"
    rest, scanning = "", nil
  end
  if scanning then scanning.pos = scanning.pos - pos + 1 end
  stream.scans[key] = scanning
  stream.pending[key] = (rest ~= "") and rest or nil
  record.rest = #rest
  record.carried = #carry
  if record.messages[1] == nil or record.messages[1].s > #carry then
    -- no message ends here that began earlier: keep no copy of the earlier bytes (a long message over
    -- many SDUs would otherwise be kept once per SDU), and count positions from this payload
    for _, m in ipairs(record.messages) do
      m.s, m.e = m.s - #carry, m.e - #carry
    end
    if record.error_at then record.error_at = record.error_at - #carry end
    record.carry = ""
  end
  return record
end

local function note_info(pinfo, key, text)
  local frame = info[pinfo.number]
  if frame == nil then
    frame = { order = {}, text = {} }
    info[pinfo.number] = frame
  end
  if frame.text[key] == nil then frame.order[#frame.order + 1] = key end
  frame.text[key] = text
end

local function show_message(tree, pinfo, view, item, family, number, mode, key, names_by_state)
  local p = G.families[family] and G.families[family][number]
  local pname = p and p.name or ("mini-protocol " .. number)
  local found, problem, m = identify(family, number, mode, item)
  if names_by_state and #found > 1 then
    local kept = {}
    for _, candidate in ipairs(found) do
      for _, name in ipairs(names_by_state) do
        if candidate.name == name then kept[#kept + 1] = candidate end
      end
    end
    if #kept > 0 then found, m = kept, kept[1] end
  end
  if m == nil then
    local node = generic(tree, view, item, pname .. " message", F.message, 0)
    if problem then node:add_proto_expert_info(E.unknown, problem) end
    note_info(pinfo, key, pname .. " " .. brief(item, 1))
    return
  end
  local names = {}
  for i, candidate in ipairs(found) do names[i] = candidate.name end
  local name = problem and (m.name .. "?") or table.concat(names, " / ")
  local node = tree:add(F.message, range(view, item), name)
  node:set_text(pname .. " " .. name)
  if problem then node:add_proto_expert_info(E.unknown, problem) end
  if type(item.items[1].v) == "number" and item.items[1].v < 4294967296 then
    node:add(F.tag, range(view, item.items[1]), item.items[1].v)
  end
  local state = {}
  local fields = FIELDS[pname] or {}
  for i, child in ipairs(item.items) do
    local f = m.fields[i - 1]
    if i > 1 and f then
      render(node, view, child, f[2], f[1], fields[f[1]], state)
    elseif i > 1 then
      generic(node, view, child, "extra item " .. (i - 1), nil, 0)
    end
  end
  local text = summary(m, item)
  note_info(pinfo, key, pname .. " " .. name .. (text ~= "" and (" " .. text) or ""))
end

-- ---------------------------------------------------------------------------------------------------
-- The SDU: header, then the whole messages it ends, and what it leaves for the next SDU.

local function dissect_sdu(tvb, pinfo, tree)
  local length = tvb(6, 2):uint()
  local number = tvb(4, 2):uint() % 32768
  local mode = (tvb(4, 2):uint() >= 32768) and 1 or 0
  local stream = stream_of(pinfo)
  local key = pinfo.number .. ":" .. tvb:offset()
  local record = records[key]
  local payload = (length > 0) and tvb:raw(HEADER, length) or ""
  if record == nil then
    local src = tostring(pinfo.src) .. ":" .. pinfo.src_port
    local dst = tostring(pinfo.dst) .. ":" .. pinfo.dst_port
    record = cut(stream, number, mode, payload, number .. "|" .. ((mode == 0) and src or dst))
    records[key] = record
  end
  local family = record.families[1] or family_for(stream, number, nil)
  local p = G.families[family] and G.families[family][number]
  local pname = p and p.name or G.number_names[number] or ("unknown mini-protocol " .. number)

  local sdu = tree:add(proto, tvb(0, HEADER + length))
  sdu:set_text("Ouroboros SDU, " .. pname .. ", " .. ((mode == 0) and "initiator" or "responder") .. ", " ..
    length .. " bytes")
  sdu:add(F.timestamp, tvb(0, 4))
  sdu:add(F.mode, tvb(4, 2))
  sdu:add(F.number, tvb(4, 2))
  sdu:add(F.name, tvb(4, 2), pname)
  sdu:add(F.length, tvb(6, 2))
  if G.families[family] == nil or (p == nil and FAMILIES_OF[number] == nil) then
    sdu:add_proto_expert_info(E.unknown, "no mini-protocol " .. number .. " in either family")
  end

  local carry = record.carry
  local data = carry .. payload
  for index, cut_at in ipairs(record.messages) do
    local item = decode_item(data, cut_at.s)
    local view
    local parent = sdu
    if cut_at.s <= #carry then -- began in earlier SDUs: shown from a reassembled buffer
      local bytes = data:sub(cut_at.s, cut_at.e - 1)
      local whole = ByteArray.new(bytes, true):tvb("Reassembled " .. pname .. " message")
      view = { tvb = whole, base = 1 - cut_at.s }
      parent = sdu:add(F.part, tvb(HEADER, cut_at.e - 1 - #carry), "end of a message")
      parent:set_text(string.format("Reassembled message: %d bytes from earlier SDUs and %d from this one",
        #carry - cut_at.s + 1, cut_at.e - 1 - #carry))
    else
      view = { tvb = tvb, base = HEADER - #carry }
    end
    show_message(parent, pinfo, view, item, record.families[index] or family, number, mode, key .. ":" .. index,
      cut_at.names)
  end
  if record.rest > 0 then
    local here = math.min(record.rest, length)
    local text
    if #record.messages == 0 and record.carried > 0 then
      text = string.format("continuation of a message (%d bytes so far), continued in the next SDU", record.rest)
    else
      text = string.format("start of a message (%d bytes), continued in the next SDU", record.rest)
    end
    local node = sdu:add(F.part, tvb(HEADER + length - here, here), text)
    node:set_text(text)
    node:add_proto_expert_info(E.part, text)
    if #record.messages == 0 then note_info(pinfo, key, pname .. " [" .. text:match("^%a+") .. " of a message]") end
  end
  if record.error then
    sdu:add_proto_expert_info(E.malformed, record.error)
    note_info(pinfo, key, pname .. " [malformed CBOR]")
  end
  return HEADER + length
end

local function sdu_length(tvb, pinfo, offset)
  return HEADER + tvb(offset + 6, 2):uint()
end

function proto.dissector(tvb, pinfo, tree)
  pinfo.cols.protocol:set("Ouroboros")
  dissect_tcp_pdus(tvb, tree, HEADER, sdu_length, dissect_sdu, true)
  local frame = info[pinfo.number]
  if frame ~= nil then
    local texts, repeats = {}, {}
    for _, key in ipairs(frame.order) do -- the same message n times in a row: "text (xn)"
      local text = frame.text[key]
      if texts[#texts] == text then
        repeats[#texts] = repeats[#texts] + 1
      else
        texts[#texts + 1], repeats[#texts + 1] = text, 1
      end
    end
    for i, text in ipairs(texts) do
      if repeats[i] > 1 then texts[i] = text .. " (x" .. repeats[i] .. ")" end
    end
    -- TCP fences the column after each call for a frame that holds the end of a reassembled SDU and more:
    -- lift it, as the text written here always covers every SDU of the frame
    pcall(function() pinfo.cols.info:clear_fence() end)
    pinfo.cols.info:set(table.concat(texts, ", "))
  end
  return tvb:len()
end

-- ---------------------------------------------------------------------------------------------------
-- Registration: the TCP port preference (default 3001), Decode As, and a heuristic that recognises a
-- connection's first SDU (a handshake message) on any port.

proto.prefs.port = Pref.uint("TCP port", 3001, "TCP port decoded as Ouroboros (0: none; see also Decode As)")
proto.prefs.heuristic = Pref.bool("Find handshakes on any port", true,
  "Recognise an Ouroboros connection on any TCP port by its first SDU, a handshake message")

local tcp_ports = DissectorTable.get("tcp.port")
local registered_port = 0

local function register_port()
  if registered_port ~= 0 then tcp_ports:remove(registered_port, proto) end
  registered_port = proto.prefs.port
  if registered_port ~= 0 then tcp_ports:add(registered_port, proto) end
end

proto.prefs_changed = register_port
register_port()
if tcp_ports.add_for_decode_as then tcp_ports:add_for_decode_as(proto) end

local function heuristic(tvb, pinfo, tree)
  if not proto.prefs.heuristic or tvb:len() < HEADER + 1 then return false end
  local number = tvb(4, 2):uint() % 32768
  local length = tvb(6, 2):uint()
  if number ~= 0 or length == 0 or tvb:len() < HEADER + length then return false end
  local ok, item = pcall(decode_item, tvb:raw(HEADER, length), 1)
  if not ok or item.e ~= length + 1 or item.m ~= 4 or item.count < 2 then return false end
  local tag = item.items[1]
  if tag.m ~= 0 or type(tag.v) ~= "number" or BY_TAG["node-to-node"][0][tag.v] == nil then return false end
  pcall(function() pinfo.conversation = proto end)
  proto.dissector(tvb, pinfo, tree)
  return true
end

proto:register_heuristic("tcp", heuristic)
