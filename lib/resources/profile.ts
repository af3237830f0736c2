import { Resource } from './resource';

export class Profile extends Resource {}
