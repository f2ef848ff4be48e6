// The subset of the demo schema both Node servers serve, with plain root resolvers, and the
// fault-test hooks: GQLWS_JOURNAL names a file that gets "field<TAB>tag" appended whenever
// slow, increment or slowIncrement starts (it outlives the process, so a test can count
// what reached the server across restarts); "CLOSE <code> [reason]" on stdin closes every
// client with that code and answers "CLOSED <n>" on stdout.
const fs = require("fs");
const { buildSchema } = require("graphql");

const schema = buildSchema(`
  type Query {
    hello(name: String = "world"): String
    echo(value: String!): String
    activeTicks: Int
    slow(seconds: Float!, tag: String = ""): Float
  }
  type Mutation {
    increment(by: Int = 1): Int
    slowIncrement(seconds: Float!, tag: String = ""): Int
  }
  type Subscription {
    countdown(from: Int!): Int
    ticks(interval: Float = 0.02): Int
    failAfter(n: Int!): Int
    clock(interval: Float = 0.02): Float
  }
`);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let activeTicks = 0;
let counter = 0;

function record(field, tag) {
  const path = process.env.GQLWS_JOURNAL;
  if (path) fs.appendFileSync(path, `${field}\t${tag}\n`);
}

const query = {
  hello: ({ name }) => `Hello ${name}`,
  echo: ({ value }) => value,
  activeTicks: () => activeTicks,
  slow: async ({ seconds, tag }) => {
    record("slow", tag);
    await sleep(seconds * 1000);
    return seconds;
  },
};

const mutation = {
  increment: ({ by }) => {
    record("increment", "");
    counter += by;
    return counter;
  },
  // Recorded first, then applied after `seconds`: a mutation a test can catch in flight.
  slowIncrement: async ({ seconds, tag }) => {
    record("slowIncrement", tag);
    await sleep(seconds * 1000);
    counter += 1;
    return counter;
  },
};

const subscription = {
  countdown: async function* ({ from }) {
    for (let i = from; i > 0; i--) {
      yield { countdown: i };
      await sleep(1);
    }
  },
  ticks: async function* ({ interval }) {
    activeTicks++;
    try {
      for (let i = 0; ; i++) {
        yield { ticks: i };
        await sleep(interval * 1000);
      }
    } finally {
      activeTicks--;
    }
  },
  failAfter: async function* ({ n }) {
    for (let i = 1; i <= n; i++) {
      yield { failAfter: i };
      await sleep(1);
    }
    throw new Error(`failed after ${n} events`);
  },
  // Wall-clock milliseconds every `interval`: increasing across server restarts.
  clock: async function* ({ interval }) {
    for (;;) {
      yield { clock: Date.now() };
      await sleep(interval * 1000);
    }
  },
};

// The port to listen on: PORT, so that a restarted server comes back on the same one;
// 0 (any free port) when unset.
const port = Number(process.env.PORT || 0);

// Prints the port for the test fixture once listening; exits when stdin closes; obeys
// "CLOSE <code> [reason]" lines on stdin.
function announce(wss) {
  wss.on("listening", () => console.log(`LISTENING ${wss.address().port}`));
  let pending = "";
  process.stdin.on("data", (chunk) => {
    pending += chunk.toString();
    let newline;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const [command, code, ...reason] = pending.slice(0, newline).trim().split(" ");
      pending = pending.slice(newline + 1);
      if (command === "CLOSE") {
        let closed = 0;
        for (const client of wss.clients) {
          client.close(Number(code), reason.join(" "));
          closed++;
        }
        console.log(`CLOSED ${closed}`);
      }
    }
  });
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}

module.exports = { schema, query, mutation, subscription, port, announce };
