// Drive Smart DCC's DUIS parser for the interop tests: reads a JSON list of
// requests on stdin, writes a JSON list of results on stdout.
//   {"op": "parse", "xml": "..."}         -> parseDuis('simplified', xml)
//   {"op": "construct", "duis": {...}}    -> constructDuis('simplified', duis)
// A request that throws gives {"error": message}; BigInt counters become strings.
'use strict'
const { parseDuis, constructDuis } = require('@smartdcc/duis-parser')

function run(request) {
  try {
    if (request.op === 'parse') {
      return { result: parseDuis('simplified', request.xml) }
    }
    if (request.op === 'construct') {
      return { result: constructDuis('simplified', request.duis) }
    }
    return { error: `unknown op ${request.op}` }
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) }
  }
}

let input = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => (input += chunk))
process.stdin.on('end', () => {
  const results = JSON.parse(input).map(run)
  process.stdout.write(
    JSON.stringify(results, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
  )
})
