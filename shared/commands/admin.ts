import { userCreate } from "./auth.js";
import { journeyCopyToUser } from "./clone.js";

/** Admin-scoped commands share one Lambda, the only group (with /api.php) that may read the admin key. */
export const adminCommands = [userCreate, journeyCopyToUser];
