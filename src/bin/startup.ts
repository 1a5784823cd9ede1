#!/usr/bin/env node
/**
 * The MNIST compute package's `startup` entry point (`node dist/startup.js`): checks this client's
 * data before the first round, or writes demo splits from the shipped digits.
 */
import mnist from "../mnist/package.js";

await mnist.mainStartup();
