// The subset of the demo schema both Node servers serve, with plain root resolvers.
const { buildSchema } = require("graphql");

const schema = buildSchema(`
  type Query {
    hello(name: String = "world"): String
    echo(value: String!): String
    activeTicks: Int
  }
  type Subscription {
    countdown(from: Int!): Int
    ticks(interval: Float = 0.02): Int
    failAfter(n: Int!): Int
  }
`);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let activeTicks = 0;

const query = {
  hello: ({ name }) => `Hello ${name}`,
  echo: ({ value }) => value,
  activeTicks: () => activeTicks,
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
};

// Prints the port for the test fixture once listening; exits when stdin closes.
function announce(wss) {
  wss.on("listening", () => console.log(`LISTENING ${wss.address().port}`));
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}

module.exports = { schema, query, subscription, announce };
