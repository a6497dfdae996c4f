// Reads the Anchor 0.30+ IDL with @coral-xyz/anchor itself: encodes the instructions and decodes the
// accounts the Python side sends in (stdin: JSON), and prints what it got (stdout: JSON).
const anchor = require("@coral-xyz/anchor");
const fs = require("fs");

const idl = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const coder = new anchor.BorshCoder(idl);
const program = new anchor.Program(idl, { connection: null });
const out = {
  address: program.programId.toBase58(),
  instructions: input.instructions.map(({ name, args }) => coder.instruction.encode(name, revive(args)).toString("hex")),
  accounts: input.accounts.map(({ name, hex }) => plain(coder.accounts.decode(name, Buffer.from(hex, "hex")))),
  events: input.events.map((hex) => plain(coder.events.decode(Buffer.from(hex, "hex").toString("base64")))),
};
process.stdout.write(JSON.stringify(out));

// The Python side marks u64s, public keys and byte arrays so they arrive as the types Anchor expects.
function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    if ("$u64" in value) return new anchor.BN(value.$u64);
    if ("$pubkey" in value) return new anchor.web3.PublicKey(value.$pubkey);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  }
  return value;
}

function plain(value) {
  if (value === null || value === undefined) return value;
  if (anchor.BN.isBN(value)) return value.toString();
  if (value instanceof anchor.web3.PublicKey) return value.toBase58();
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}
