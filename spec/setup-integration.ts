// Round trips to a real Synapse (and mails through the sink) outlast jest's 5 s default.
jest.setTimeout(60_000);
