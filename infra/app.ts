import { App } from "aws-cdk-lib";
import { JourneyApiStack } from "./stack.js";

// No env: the stack stays environment-agnostic, so it synthesizes offline and
// deploys to whatever account and region the deploying credentials select.
const app = new App();
new JourneyApiStack(app, "JourneyApi");
app.synth();
