// A child process for child-process.fixture.ts: prints PRINT_ME on stderr, like a leaky CLI would.
process.stderr.write(`token=${process.env.PRINT_ME ?? ''}\n`);
