-- .luacheckrc - luacheck over common/lua/ (`make lint`, tools/lint.sh).
-- The scripts run in Redis's Lua 5.1 with these globals; each operation
-- also sees the prelude's top-level names as locals (tools/lua2c.sh declares
-- them on its first line), so they are read-only globals here, and the
-- prelude may leave them unused.
std = 'lua51'
max_line_length = 80
read_globals = {'redis', 'cjson', 'KEYS', 'ARGV'}

local shared = {}
for line in io.lines('common/lua/prelude.lua') do
  local names = line:match('^local function ([%w_]+)') or
    line:match('^local ([%w_, ]+) =')
  if names then
    for n in names:gmatch('[%w_]+') do shared[#shared + 1] = n end
  end
end

local unused = {}
for _, n in ipairs(shared) do unused[#unused + 1] = '21./' .. n end
files['common/lua/prelude.lua'] = {ignore = unused}
files['common/lua/*.lua'] = {read_globals = shared}
